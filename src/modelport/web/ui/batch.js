// Many rows at once: CSV pasted or chosen as a file, one request, a table of predictions
// that downloads as CSV.

import { api, el } from "./common.js";

/** Rows of a CSV text (quoted fields, "" inside quotes, commas and newlines in them). */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i += 1;
      row.push(field);
      if (row.some((value) => value.trim() !== "")) rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  row.push(field);
  if (row.some((value) => value.trim() !== "")) rows.push(row);
  return rows;
}

function csvField(value) {
  const text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A cell as the model's feature type wants it: numbers for numeric features. */
function typed(text, feature) {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  if (feature && feature.type === "str") return text;
  if (feature && feature.type === "bool") return ["true", "1", "yes"].includes(trimmed.toLowerCase());
  const number = Number(trimmed);
  return Number.isFinite(number) ? number : text;
}

/** The "Batch" card of model ``name`` whose features are ``features``. */
export function batchSection(name, features, wantsProbabilities) {
  const names = features.map((f) => f.name);
  const text = el("textarea", { id: "batch-rows", rows: 6, spellcheck: "false", placeholder: `${names.join(",")}\n...` });
  const file = el("input", { id: "batch-file", type: "file", accept: ".csv,text/csv" });
  file.addEventListener("change", async () => {
    if (file.files.length) text.value = await file.files[0].text();
  });
  const output = el("div", { class: "result", "aria-live": "polite" });

  async function predictAll(event) {
    event.preventDefault();
    const rows = parseCsv(text.value);
    if (!rows.length) {
      output.replaceChildren(el("p", { class: "error-box", role: "alert" }, "No rows: paste CSV, or choose a CSV file."));
      return;
    }
    // A first row naming every feature is a header: the columns may come in any order.
    const header = rows[0].map((cell) => cell.trim());
    const named = names.every((n) => header.includes(n)) && !header.every((cell) => Number.isFinite(Number(cell)));
    const body = named ? rows.slice(1) : rows;
    const instances = body.map((row) =>
      named
        ? Object.fromEntries(names.map((n) => [n, typed(row[header.indexOf(n)] ?? "", features.find((f) => f.name === n))]))
        : row.map((cell, i) => typed(cell, features[i])),
    );
    const query = wantsProbabilities ? "?probabilities=true" : "";
    const answer = await api(`/v1/models/${encodeURIComponent(name)}:predict${query}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ instances }),
    });
    if (!answer.ok) {
      output.replaceChildren(el("p", { class: "error-box", role: "alert" }, answer.body.message || `error ${answer.status}`));
      return;
    }
    const predictions = answer.body.predictions;
    const probabilities = answer.body.probabilities || null;
    const inputs = body.map((row) => (named ? names.map((n) => row[header.indexOf(n)] ?? "") : row));
    const columns = [...names, "prediction", ...(probabilities ? ["probability"] : [])];
    const lines = inputs.map((row, i) => {
      const best = probabilities ? Math.max(...Object.values(probabilities[i])) : null;
      return [...row, predictions[i], ...(probabilities ? [best.toFixed(4)] : [])];
    });
    const csv = [columns, ...lines].map((line) => line.map(csvField).join(",")).join("\n") + "\n";
    const link = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: `${name}-predictions.csv`, id: "batch-download" }, "Download as CSV");
    output.replaceChildren(
      el("p", {}, `${lines.length} prediction(s), version ${answer.body.model_version}. `, link),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { id: "batch-table" },
          el("thead", {}, el("tr", {}, columns.map((c) => el("th", { scope: "col" }, c)))),
          el("tbody", {}, lines.map((line) => el("tr", {}, line.map((cell) => el("td", {}, cell === null ? "" : String(cell)))))),
        ),
      ),
    );
  }

  return el(
    "section",
    { class: "card", id: "batch", "aria-labelledby": "batch-title" },
    el("h2", { id: "batch-title" }, "Batch"),
    el(
      "form",
      { onsubmit: (event) => predictAll(event).catch((error) => output.replaceChildren(el("p", { class: "error-box", role: "alert" }, error.message))) },
      el("div", { class: "field" }, el("label", { for: "batch-rows" }, "Rows as CSV (a header row naming the features, or values in feature order)"), text),
      el("div", { class: "field" }, el("label", { for: "batch-file" }, "Or a CSV file"), file),
      el("p", {}, el("button", { type: "submit" }, "Predict all")),
    ),
    output,
  );
}
