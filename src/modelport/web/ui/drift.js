// Drift: each feature's live histogram against its reference, from GET
// /v1/models/NAME/monitor (the server sorts the drifting features first), every 5 s while
// the page shows the model.

import { api, el } from "./common.js";

const EVERY_MS = 5000;

function pct(share) {
  return `${(100 * share).toFixed(1)}%`;
}

function labels(histogram) {
  if (histogram.categories) return histogram.categories;
  const edges = histogram.edges.map((e) => (Math.abs(e) >= 100 ? e.toFixed(0) : e.toPrecision(3)));
  return histogram.reference.map((_, i) => (i === 0 ? `< ${edges[0]}` : i === edges.length ? `≥ ${edges[i - 1]}` : `${edges[i - 1]}–${edges[i]}`));
}

/** Two bars per bin: the reference's share (pale) over the live share. */
function pairedBars(histogram) {
  const most = Math.max(0.0001, ...histogram.reference, ...histogram.live);
  const bar = (share, cls) => {
    const fill = el("div", { class: cls });
    fill.style.width = `${(100 * share) / most}%`;
    return el("div", { class: "track" }, fill);
  };
  return el(
    "div",
    { class: "chart" },
    labels(histogram).map((label, i) => [
      el("span", {}, label),
      el("div", {}, bar(histogram.reference[i], "fill reference"), bar(histogram.live[i], "fill")),
      el("span", { class: "value" }, `${pct(histogram.live[i])} / ${pct(histogram.reference[i])}`),
    ]),
  );
}

function featureFigure(feature) {
  const checks = feature.kind === "numeric" ? `PSI ${feature.psi.toFixed(3)}, KS ${feature.ks.toFixed(3)}` : `PSI ${feature.psi.toFixed(3)}, unseen ${pct(feature.unseen_rate)}`;
  return el(
    "figure",
    { class: "live-chart", "data-feature": feature.feature, "data-status": feature.status },
    el("figcaption", {}, `${feature.feature}: `, el("span", { class: `status ${feature.status}` }, feature.status), ` (${checks})`),
    pairedBars(feature.histogram),
  );
}

/** The "Drift" card of model ``name``. */
export function driftSection(name) {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  const card = el("section", { class: "card", id: "drift", "aria-labelledby": "drift-title" }, el("h2", { id: "drift-title" }, "Drift"), body);

  async function refresh() {
    const answer = await api(`/v1/models/${encodeURIComponent(name)}/monitor`);
    if (!answer.ok) {
      body.replaceChildren(el("p", { class: "muted" }, answer.body.message || `error ${answer.status}`));
      return;
    }
    const report = answer.body;
    const reference = report.reference;
    if (!report.enabled || !reference || !report.window) {
      const why = !report.enabled ? "Monitoring is off for this model (model.yaml monitor: false)." : `No reference yet: it is made from the first ${reference.needed} logged rows, or from a reference.csv beside the model.`;
      body.replaceChildren(el("p", { class: "muted" }, why));
      return;
    }
    const window = report.window;
    if (!window.enough_rows) {
      body.replaceChildren(el("p", { class: "muted" }, `${window.rows} logged row(s) so far; drift is scored from ${window.min_rows}.`));
      return;
    }
    body.replaceChildren(
      el("p", { class: "muted" }, `The newest ${window.rows} logged rows against ${reference.source} (${reference.rows} rows): `, el("span", { class: `status ${report.status}`, id: "drift-status" }, report.status), ". Bars: live, and the reference paler."),
      el("div", { class: "live-grid" }, report.features.map(featureFigure)),
    );
  }

  async function loop() {
    if (!card.isConnected && card.dataset.started) return; // the page moved on
    card.dataset.started = "1";
    await refresh().catch(() => {});
    setTimeout(loop, EVERY_MS);
  }
  loop();
  return card;
}
