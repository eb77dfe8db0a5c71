// modelport's browser UI: the models page and a page per model to try it and manage it.
// Every value from the server is put in the page as text (textContent, never innerHTML):
// a model's description or labels cannot run script here. No network beyond this server.

import { NeedsToken, TOKEN_KEY, api, el, size, stateBadge } from "./common.js";
import { batchSection } from "./batch.js";
import { distributionSection } from "./distributions.js";
import { driftSection } from "./drift.js";
import { liveSection } from "./live.js";
import { manageSection } from "./manage.js";

const main = document.getElementById("main");

function show(...nodes) {
  main.replaceChildren(...nodes.flat(Infinity).filter((node) => node !== null && node !== undefined));
}

function tokenForm(retry) {
  const input = el("input", { id: "token", type: "password", autocomplete: "off", required: true });
  return el(
    "form",
    {
      class: "card",
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        retry();
      },
    },
    el("h1", {}, "This server asks for a token"),
    el("p", { class: "muted" }, "It is kept in this browser tab only, and sent to this server only."),
    el("div", { class: "field" }, el("label", { for: "token" }, "API token"), input),
    el("p", {}, el("button", { type: "submit" }, "Continue")),
  );
}

async function guarded(render) {
  try {
    await render();
  } catch (error) {
    if (error instanceof NeedsToken) show(tokenForm(() => guarded(render)));
    else show(el("p", { class: "error-box", role: "alert" }, `Could not reach the server: ${error.message}`));
  }
}

// -- the models page ----------------------------------------------------------------------

function modelRow(model) {
  const newest = model.versions[model.versions.length - 1] || {};
  const failed = model.state === "failed";
  const warnings = model.versions.flatMap((version) => version.warnings || []);
  return el(
    "tr",
    { class: failed ? "failed" : "", "data-model": model.name },
    el(
      "td",
      {},
      el("a", { href: `#/models/${encodeURIComponent(model.name)}` }, model.name),
      model.description ? el("div", { class: "muted" }, model.description) : null,
      failed && model.error ? el("div", { class: "reason" }, `Why: ${model.error}`) : null,
      warnings.map((text) => el("div", { class: "warning" }, `Note: ${text}`)),
    ),
    el("td", {}, stateBadge(model.state)),
    el("td", { class: "num" }, model.versions.map((v) => `v${v.version}`).join(", ") || "–"),
    el("td", {}, newest.runtime || "–"),
    el("td", { class: "num hide-narrow" }, size(newest.size_bytes)),
    el("td", { class: "hide-narrow" }, newest.sha256 ? el("code", { title: newest.sha256 }, newest.sha256.slice(0, 12)) : "–"),
    el("td", { class: "num hide-narrow" }, newest.load_seconds != null ? `${newest.load_seconds.toFixed(2)} s` : "–"),
  );
}

async function modelsPage() {
  const { body } = await api("/v1/models");
  const models = body.models || [];
  const rows = models.map(modelRow);
  const tbody = el("tbody", {}, rows);
  const count = el("span", { class: "muted", "aria-live": "polite" }, `${models.length} model(s)`);
  const filter = el("input", {
    id: "filter",
    type: "search",
    placeholder: "name, runtime or state",
    oninput: () => {
      const words = filter.value.trim().toLowerCase();
      let shown = 0;
      models.forEach((model, index) => {
        const text = `${model.name} ${model.state} ${model.description || ""} ${model.versions.map((v) => v.runtime).join(" ")}`;
        const match = !words || text.toLowerCase().includes(words);
        rows[index].hidden = !match;
        if (match) shown += 1;
      });
      count.textContent = `${shown} of ${models.length} model(s)`;
    },
  });
  show(
    el("h1", {}, "Models"),
    el("div", { class: "filter" }, el("label", { for: "filter" }, "Filter"), filter, count),
    models.length
      ? el(
          "div",
          { class: "table-wrap" },
          el(
            "table",
            {},
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ["Model", "State", "Versions", "Runtime"].map((h) => el("th", { scope: "col" }, h)),
                ["Size", "sha256", "Load time"].map((h) => el("th", { scope: "col", class: "hide-narrow" }, h)),
              ),
            ),
            tbody,
          ),
        )
      : el("p", { class: "muted" }, "No models yet: put one in the model folder, or run `modelport train-examples` there."),
  );
}

// -- one model: try it --------------------------------------------------------------------

function inputFor(feature, index, example) {
  const id = `feature-${index}`;
  const given = Array.isArray(example) ? example[index] : example && typeof example === "object" ? example[feature.name] : undefined;
  const attrs = { id, name: feature.name, "aria-describedby": `${id}-error` };
  let input;
  if (feature.type === "bool") {
    input = el("input", { ...attrs, type: "checkbox", checked: given === true || given === 1 });
  } else if (feature.type === "str") {
    input = el("input", { ...attrs, type: "text", value: given ?? "" });
  } else {
    // Text, not type=number: the browser would drop what it cannot parse, and the server's
    // own message for it is the one worth showing.
    input = el("input", { ...attrs, type: "text", inputmode: "decimal", value: given ?? "" });
  }
  return el(
    "div",
    { class: "field", "data-feature": feature.name },
    el("label", { for: id }, feature.name, " ", el("span", { class: "type" }, `(${feature.type})`)),
    input,
    el("div", { class: "field-error", id: `${id}-error`, role: "status" }),
  );
}

function valueOf(field, feature) {
  const input = field.querySelector("input");
  if (feature.type === "bool") return input.checked;
  const text = input.value.trim();
  if (text === "") return null;
  if (feature.type === "str") return input.value;
  const number = Number(text);
  // What is not a number goes as typed: the server says what is wrong with it.
  return Number.isFinite(number) ? number : text;
}

function probabilityChart(probabilities, predicted) {
  const entries = Object.entries(probabilities).sort((a, b) => b[1] - a[1]);
  return el(
    "div",
    { class: "chart", role: "img", "aria-label": entries.map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`).join(", ") },
    entries.map(([label, value]) => {
      const fill = el("div", { class: "fill" });
      fill.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`;
      const top = String(label) === String(predicted);
      return [
        el("span", { class: top ? "top" : "" }, label),
        el("div", { class: `track${top ? " top" : ""}` }, fill),
        el("span", { class: "value" }, `${(value * 100).toFixed(1)}%`),
      ];
    }),
  );
}

function placeError(form, fields, message) {
  // "row 0, feature 'sepal_width': ..." or "row 0, column 2: ..." names the field at fault.
  const named = /feature '([^']+)'/.exec(message);
  const column = /column (\d+)/.exec(message);
  let field = null;
  if (named) field = fields.find((f) => f.dataset.feature === named[1]);
  else if (column) field = fields[Number(column[1])];
  if (!field) return false;
  const input = field.querySelector("input");
  input.setAttribute("aria-invalid", "true");
  field.querySelector(".field-error").textContent = message;
  input.focus();
  return true;
}

// -- the same request as code ------------------------------------------------------------

/** ``value`` as a Python literal (None, True, False where JSON has null, true, false). */
function pyLiteral(value) {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : 'float("nan")';
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(", ")}}`;
}

/** A single-quoted shell word (the JSON body may hold quotes). */
function shellQuote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function requestCode(name, features, values, named, query) {
  const origin = location.origin;
  const quoted = encodeURIComponent(name);
  const row = named ? Object.fromEntries(features.map((f, i) => [f.name, values[i]])) : values;
  const body = JSON.stringify({ instances: [row] });
  const auth = sessionStorage.getItem(TOKEN_KEY) ? ' \\\n  -H "Authorization: Bearer $MODELPORT_TOKEN"' : "";
  const pyAuth = sessionStorage.getItem(TOKEN_KEY) ? ', headers={"Authorization": f"Bearer {token}"}' : "";
  const snippets = [
    ["curl", `curl -s -X POST '${origin}/v1/models/${quoted}:predict${query}'${auth} \\\n  -H 'Content-Type: application/json' -d ${shellQuote(body)}`],
    [
      "Python (requests)",
      `import requests\n${pyAuth ? 'import os\n\ntoken = os.environ["MODELPORT_TOKEN"]\n' : ""}\nanswer = requests.post(\n    "${origin}/v1/models/${quoted}:predict${query}",\n    json=${pyLiteral({ instances: [row] })}${pyAuth},\n)\nprint(answer.json())`,
    ],
  ];
  if (features.every((f) => f.type !== "str")) {
    const numbers = JSON.stringify(values.map((v) => (typeof v === "boolean" ? Number(v) : v ?? NaN))).replaceAll("null", "np.nan");
    snippets.push([
      "Open Inference Protocol V2 (tritonclient)",
      `import numpy as np\nimport tritonclient.http as httpclient  # pip install 'tritonclient[http]'\n\nclient = httpclient.InferenceServerClient("${location.host}")\nfeatures = httpclient.InferInput("input-0", [1, ${values.length}], "FP64")\nfeatures.set_data_from_numpy(np.array([${numbers}]))\nprint(client.infer("${name}", [features]).as_numpy("predict"))`,
    ]);
  }
  const split = JSON.stringify({ dataframe_split: { columns: features.map((f) => f.name), data: [values] } });
  if (named) {
    snippets.push(["MLflow scoring protocol", `curl -s -X POST '${origin}/v1/models/${quoted}/invocations'${auth} \\\n  -H 'Content-Type: application/json' -d ${shellQuote(split)}`]);
  }
  return snippets;
}

function codeSection(snippets) {
  return snippets.map(([title, code]) => {
    const block = el("pre", {}, el("code", {}, code));
    const copy = el("button", { type: "button", class: "secondary", onclick: () => navigator.clipboard?.writeText(code) }, "Copy");
    return el("div", { class: "snippet" }, el("div", { class: "snippet-head" }, el("h3", {}, title), copy), block);
  });
}

async function modelPage(name) {
  const { status, body } = await api(`/v1/models/${encodeURIComponent(name)}`);
  if (status !== 200) {
    show(el("p", { class: "error-box", role: "alert" }, body.message || `no model ${name}`), el("p", {}, el("a", { href: "#/" }, "All models")));
    return;
  }
  const signature = body.signature || {};
  let features = signature.inputs;
  if (!features && signature.n_features) {
    features = Array.from({ length: signature.n_features }, (_, i) => ({ name: `column ${i}`, type: "float" }));
  }
  const header = [
    el("p", {}, el("a", { href: "#/" }, "← All models")),
    el("h1", {}, body.name, " ", stateBadge(body.state)),
    body.description ? el("p", { class: "muted" }, body.description) : null,
    body.state === "failed" && body.error ? el("p", { class: "reason" }, `Why: ${body.error}`) : null,
  ];
  if (body.state !== "ready" || !features) {
    show(...header, el("p", { class: "muted" }, body.state !== "ready" ? "This model does not answer until a version is ready." : "This model does not say what it takes; use the API docs to call it."), manageSection(name, () => {}));
    return;
  }
  const named = Boolean(signature.inputs);
  const fields = features.map((feature, index) => inputFor(feature, index, signature.example));
  const result = el("div", { class: "result", "aria-live": "polite" });
  const wantsProbabilities = (signature.outputs || []).includes("probabilities");
  const form = el("form", { class: "try", novalidate: true }, fields, el("div", { class: "actions" }, el("button", { type: "submit" }, "Predict")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const field of fields) {
      field.querySelector("input").removeAttribute("aria-invalid");
      field.querySelector(".field-error").textContent = "";
    }
    const values = features.map((feature, index) => valueOf(fields[index], feature));
    const row = named ? Object.fromEntries(features.map((f, i) => [f.name, values[i]])) : values;
    const query = wantsProbabilities ? "?probabilities=true" : "";
    const started = performance.now();
    let answer;
    try {
      answer = await api(`/v1/models/${encodeURIComponent(name)}:predict${query}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ instances: [row] }),
      });
    } catch (error) {
      if (error instanceof NeedsToken) show(tokenForm(() => guarded(() => modelPage(name))));
      else result.replaceChildren(el("p", { class: "error-box", role: "alert" }, error.message));
      return;
    }
    const elapsed = performance.now() - started;
    if (!answer.ok) {
      const message = answer.body.message || `error ${answer.status}`;
      result.replaceChildren(el("p", { class: "error-box", role: "alert" }, message));
      placeError(form, fields, message);
      return;
    }
    const predicted = answer.body.predictions[0];
    const probabilities = answer.body.probabilities ? answer.body.probabilities[0] : null;
    result.replaceChildren(
      el("div", { class: "prediction", id: "prediction" }, typeof predicted === "object" ? JSON.stringify(predicted) : String(predicted)),
      el("div", { class: "muted" }, `version ${answer.body.model_version}, answered in ${elapsed.toFixed(1)} ms`),
      probabilities ? probabilityChart(probabilities, predicted) : null,
    );
  });
  const code = el("section", { class: "card", "aria-labelledby": "code-title", id: "code" });
  const showCode = () => {
    const values = features.map((feature, index) => valueOf(fields[index], feature));
    const query = wantsProbabilities ? "?probabilities=true" : "";
    code.replaceChildren(el("h2", { id: "code-title" }, "The same request as code"), ...codeSection(requestCode(name, features, values, named, query)));
  };
  form.addEventListener("input", showCode);
  showCode();
  show(...header, el("section", { class: "card", "aria-labelledby": "try-title" }, el("h2", { id: "try-title" }, "Try it"), form, result), liveSection(name), driftSection(name), distributionSection(name, features), batchSection(name, features, wantsProbabilities), code, manageSection(name, () => {}));
}

// -- routing --------------------------------------------------------------------------------

function route() {
  const hash = decodeURIComponent(location.hash.slice(1) || "/");
  const model = /^\/models\/(.+)$/.exec(hash);
  guarded(() => (model ? modelPage(model[1]) : modelsPage())).then(() => main.focus());
}

window.addEventListener("hashchange", route);
route();
