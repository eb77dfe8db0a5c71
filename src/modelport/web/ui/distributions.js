// What the model saw and said lately: a histogram of each input feature and the count of
// each prediction, from the prediction log's last rows (the admin token reads the log).

import { ADMIN_KEY, api, el } from "./common.js";

const RECENT = 1000;
const BINS = 10;

function bars(entries) {
  const most = Math.max(1, ...entries.map(([, count]) => count));
  return el(
    "div",
    { class: "chart" },
    entries.map(([label, count]) => {
      const fill = el("div", { class: "fill" });
      fill.style.width = `${(100 * count) / most}%`;
      return [el("span", {}, label), el("div", { class: "track" }, fill), el("span", { class: "value" }, String(count))];
    }),
  );
}

function histogram(values) {
  const numbers = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  if (!numbers.length) {
    const counts = new Map();
    for (const value of values) counts.set(String(value), (counts.get(String(value)) || 0) + 1);
    return bars([...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, BINS));
  }
  const low = Math.min(...numbers);
  const high = Math.max(...numbers);
  if (low === high) return bars([[String(low), numbers.length]]);
  const width = (high - low) / BINS;
  const counts = new Array(BINS).fill(0);
  for (const value of numbers) counts[Math.min(BINS - 1, Math.floor((value - low) / width))] += 1;
  const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3));
  return bars(counts.map((count, i) => [`${fmt(low + i * width)}–${fmt(low + (i + 1) * width)}`, count]));
}

/** The rows' values per feature, whatever shape each request sent (rows or records). */
function columns(rows, names) {
  const byName = Object.fromEntries(names.map((n) => [n, []]));
  for (const entry of rows) {
    // A rejected request's input is logged as the client sent it: not what the model saw.
    if (entry.status !== "ok") continue;
    const inputs = Array.isArray(entry.input) ? entry.input : [];
    for (const row of inputs) {
      names.forEach((n, i) => {
        const value = Array.isArray(row) ? row[i] : row && typeof row === "object" ? row[n] : undefined;
        if (value !== undefined) byName[n].push(value);
      });
    }
  }
  return byName;
}

/** The "Distributions" card of model ``name``. */
export function distributionSection(name, features) {
  const body = el("div", {});
  const card = el(
    "section",
    { class: "card", id: "distributions", "aria-labelledby": "dist-title" },
    el("h2", { id: "dist-title" }, "What it saw and said lately"),
    el("p", {}, el("button", { type: "button", class: "secondary", onclick: () => show() }, "Show the distributions")),
    body,
  );

  async function show() {
    if (!sessionStorage.getItem(ADMIN_KEY)) {
      body.replaceChildren(el("p", { class: "muted" }, "The prediction log takes the admin token: unlock Manage below first."));
      return;
    }
    const since = new Date(Date.now() - 3600 * 1000).toISOString();
    const answer = await api(`/v1/models/${encodeURIComponent(name)}/predictions?limit=${RECENT}&since=${encodeURIComponent(since)}`);
    if (!answer.ok) {
      body.replaceChildren(el("p", { class: "error-box", role: "alert" }, answer.body.message || `error ${answer.status}`));
      return;
    }
    const rows = answer.body.predictions || [];
    if (!rows.length) {
      body.replaceChildren(el("p", { class: "muted" }, "No logged prediction in the last hour."));
      return;
    }
    const names = features.map((f) => f.name);
    const inputs = columns(rows, names);
    const said = rows.flatMap((row) => (row.output && Array.isArray(row.output.predictions) ? row.output.predictions : []));
    body.replaceChildren(
      el("p", { class: "muted" }, `From the prediction log: ${rows.length} request(s) of the last hour (the first ${RECENT} at most).`),
      el("div", { class: "live-grid" },
        el("figure", { class: "live-chart", id: "dist-predictions" }, el("figcaption", {}, "Predictions"), histogram(said)),
        names.map((n) => el("figure", { class: "live-chart", "data-feature": n }, el("figcaption", {}, n), histogram(inputs[n]))),
      ),
    );
  }

  return card;
}
