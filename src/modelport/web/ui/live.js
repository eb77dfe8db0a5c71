// Live charts of one model: requests/s, errors, p50/p99 latency, rows per model call and
// cache hit rate, from the counters GET /v1/models/NAME/live answers (the numbers of
// /metrics, every worker's). The page polls them and charts the differences: the server
// keeps no history for it.

import { api, el } from "./common.js";

const EVERY_MS = 2000;
const POINTS = 150; // five minutes at one point every two seconds

let loadingCharts = null;

/** uPlot, loaded the first time a chart is drawn (the models page does without it). */
function chartLibrary() {
  if (window.uPlot) return Promise.resolve(window.uPlot);
  loadingCharts ??= new Promise((resolve, reject) => {
    document.head.append(el("link", { rel: "stylesheet", href: "/static/ui/vendor/uPlot.min.css" }));
    const script = el("script", { src: "/static/ui/vendor/uPlot.iife.min.js" });
    script.addEventListener("load", () => resolve(window.uPlot));
    script.addEventListener("error", () => reject(new Error("the chart library did not load")));
    document.head.append(script);
  });
  return loadingCharts;
}

/** The latency under which a ``share`` of the interval's requests were answered (ms),
 * from two cumulative histograms: the upper bound of the bucket where it falls. */
function quantile(before, after, share) {
  const counts = after.map(([bound, count], index) => [bound, count - (before[index] ? before[index][1] : 0)]);
  const total = counts.length ? counts[counts.length - 1][1] : 0;
  if (total <= 0) return null;
  const wanted = share * total;
  const found = counts.find(([, count]) => count >= wanted);
  if (!found || found[0] === null) return null;
  return found[0] * 1000;
}

/** What happened between two polls. */
function interval(before, after) {
  const seconds = Math.max(0.001, after.time - before.time);
  const ok = after.requests.ok - before.requests.ok;
  const errors = after.requests.error - before.requests.error;
  const calls = after.batch_rows.count - before.batch_rows.count;
  const rows = after.batch_rows.sum - before.batch_rows.sum;
  const hits = after.cache.hit - before.cache.hit;
  const lookups = hits + after.cache.miss - before.cache.miss;
  return {
    time: after.time,
    rate: (ok + errors) / seconds,
    errors: errors / seconds,
    p50: quantile(before.latency_buckets, after.latency_buckets, 0.5),
    p99: quantile(before.latency_buckets, after.latency_buckets, 0.99),
    batch: calls > 0 ? rows / calls : null,
    hitRate: lookups > 0 ? (100 * hits) / lookups : null,
  };
}

function chartBox(title) {
  return el("figure", { class: "live-chart" }, el("figcaption", {}, title), el("div", { class: "plot" }));
}

/** The "Live" card of model ``name``: polls while it is on the page. */
export function liveSection(name) {
  const total = el("strong", { id: "live-total" }, "–");
  const errorRate = el("strong", { id: "live-errors" }, "–");
  const boxes = {
    rate: chartBox("Requests per second (and errors)"),
    latency: chartBox("Latency, p50 and p99 (ms)"),
    batch: chartBox("Rows per model call; cache hit rate (%)"),
  };
  const card = el(
    "section",
    { class: "card", id: "live", "aria-labelledby": "live-title" },
    el("h2", { id: "live-title" }, "Live"),
    el("p", { class: "muted" }, "Predictions so far: ", total, " · errors in the last two seconds: ", errorRate, " · every two seconds, all workers."),
    el("div", { class: "live-grid" }, Object.values(boxes)),
  );
  const series = { time: [], rate: [], errors: [], p50: [], p99: [], batch: [], hitRate: [] };
  let previous = null;
  let charts = null;

  async function draw() {
    const uPlot = await chartLibrary();
    const make = (box, labels, values) => {
      const target = box.querySelector(".plot");
      const options = {
        width: Math.max(240, target.clientWidth),
        height: 160,
        // The last five minutes, however few points there are yet.
        scales: { x: { time: true, range: (chart, min, max) => [max - (POINTS * EVERY_MS) / 1000, max] } },
        series: [{}, ...labels.map((label, i) => ({ label, stroke: ["#2456c8", "#b3261e"][i], width: 2, points: { size: 4 } }))],
        axes: [{}, { size: 50 }],
        legend: { live: false },
      };
      return new uPlot(options, [series.time, ...values], target);
    };
    charts ??= {
      rate: make(boxes.rate, ["req/s", "errors/s"], [series.rate, series.errors]),
      latency: make(boxes.latency, ["p50", "p99"], [series.p50, series.p99]),
      batch: make(boxes.batch, ["rows/call", "hit %"], [series.batch, series.hitRate]),
    };
    charts.rate.setData([series.time, series.rate, series.errors]);
    charts.latency.setData([series.time, series.p50, series.p99]);
    charts.batch.setData([series.time, series.batch, series.hitRate]);
  }

  async function poll() {
    if (!card.isConnected && previous !== null) return false; // the page moved on
    const answer = await api(`/v1/models/${encodeURIComponent(name)}/live`);
    if (!answer.ok) {
      card.replaceChildren(el("h2", { id: "live-title" }, "Live"), el("p", { class: "muted" }, answer.body.message));
      return false;
    }
    const now = answer.body;
    total.textContent = String(now.requests.ok + now.requests.error);
    if (previous !== null) {
      const step = interval(previous, now);
      errorRate.textContent = step.rate > 0 ? `${((100 * step.errors) / step.rate).toFixed(1)}%` : "–";
      for (const key of Object.keys(series)) {
        series[key].push(step[key]);
        if (series[key].length > POINTS) series[key].shift();
      }
      if (card.isConnected) await draw();
    }
    previous = now;
    return true;
  }

  async function loop() {
    try {
      if (!(await poll())) return;
    } catch (error) {
      errorRate.textContent = `(${error.message})`;
    }
    setTimeout(loop, EVERY_MS);
  }
  loop();
  return card;
}
