// Managing one model from the browser: upload a version, move an alias (a rollback is a
// move back), delete a version, reload. The admin token is asked for once and kept in this
// tab only; each action shows the audit log entry it made.

import { ADMIN_KEY, api, el, size, stateBadge } from "./common.js";

/** The "Manage" card of model ``name``; ``changed`` is called after each action. */
export function manageSection(name, changed) {
  const card = el("section", { class: "card", id: "manage", "aria-labelledby": "manage-title" });
  const status = el("div", { class: "audit", role: "status", "aria-live": "polite" });

  async function refresh() {
    if (!sessionStorage.getItem(ADMIN_KEY)) {
      card.replaceChildren(el("h2", { id: "manage-title" }, "Manage"), tokenForm(), status);
      return;
    }
    const answer = await api(`/v1/admin/models/${encodeURIComponent(name)}/versions`);
    if (answer.status === 401 || answer.status === 403) {
      sessionStorage.removeItem(ADMIN_KEY);
      card.replaceChildren(el("h2", { id: "manage-title" }, "Manage"), el("p", { class: "error-box", role: "alert" }, answer.body.message), tokenForm(), status);
      return;
    }
    if (!answer.ok) {
      card.replaceChildren(el("h2", { id: "manage-title" }, "Manage"), el("p", { class: "error-box", role: "alert" }, answer.body.message), status);
      return;
    }
    const history = answer.body;
    card.replaceChildren(
      el("h2", { id: "manage-title" }, "Manage"),
      versionsTable(history),
      aliasesForm(history),
      uploadForm(),
      el("p", {}, el("button", { type: "button", class: "secondary", onclick: () => act("POST", `/v1/admin/models/${encodeURIComponent(name)}/reload`) }, "Reload from the folder")),
      status,
    );
  }

  function tokenForm() {
    const input = el("input", { id: "admin-token", type: "password", autocomplete: "off", required: true });
    return el(
      "form",
      {
        onsubmit: (event) => {
          event.preventDefault();
          sessionStorage.setItem(ADMIN_KEY, input.value.trim());
          refresh();
        },
      },
      el("p", { class: "muted" }, "Managing models takes the admin token (`modelport admin-token` prints it). It is kept in this browser tab only."),
      el("div", { class: "field" }, el("label", { for: "admin-token" }, "Admin token"), input),
      el("p", {}, el("button", { type: "submit" }, "Unlock")),
    );
  }

  /** Run one management call, then show its outcome and the audit entry it wrote. */
  async function act(method, path, body) {
    const options = { method };
    if (body !== undefined) {
      options.headers = { "Content-Type": "application/json" };
      options.body = JSON.stringify(body);
    }
    const answer = await api(path, options);
    await report(answer.ok, answer.body);
  }

  async function report(ok, body) {
    const audit = await api(`/v1/admin/audit?model=${encodeURIComponent(name)}&limit=1`);
    const entry = audit.ok ? audit.body.entries[0] : null;
    await refresh();
    status.replaceChildren(
      ok ? el("p", { class: "done" }, "Done.") : el("p", { class: "error-box", role: "alert" }, body.message || "the server refused"),
      entry
        ? el("p", { class: "muted", id: "audit-entry" }, `Audit log: ${entry.at} ${entry.actor} ${entry.action} ${entry.target} (${entry.outcome}) from ${entry.client_address || "-"}`)
        : null,
    );
    changed();
  }

  function versionsTable(history) {
    const aliased = new Set(Object.values(history.aliases));
    const rows = history.versions.map((version) =>
      el(
        "tr",
        { "data-version": version.version },
        el("td", { class: "num" }, `v${version.version}`),
        el("td", {}, stateBadge(version.state), version.error ? el("div", { class: "reason" }, version.error) : null),
        el("td", {}, version.runtime || "–"),
        el("td", { class: "num" }, size(version.size)),
        el("td", {}, version.sha256 ? el("code", { title: version.sha256 }, version.sha256.slice(0, 12)) : "–"),
        el("td", {}, `${version.created_at.slice(0, 19).replace("T", " ")} by ${version.created_by || version.source}`),
        el(
          "td",
          {},
          aliased.has(version.version)
            ? el("span", { class: "muted" }, "aliased")
            : el("button", { type: "button", class: "secondary", "aria-label": `Delete version ${version.version}`, onclick: () => {
                if (confirm(`Delete version ${version.version} of ${name}?`)) act("DELETE", `/v1/admin/models/${encodeURIComponent(name)}/versions/${version.version}`);
              } }, "Delete"),
        ),
      ),
    );
    return el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "versions" },
        el("thead", {}, el("tr", {}, ["Version", "State", "Runtime", "Size", "sha256", "Created", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows),
      ),
    );
  }

  function aliasesForm(history) {
    const ready = history.versions.filter((v) => v.state === "ready").map((v) => v.version);
    const entries = Object.entries(history.aliases);
    const aliasInput = el("input", { id: "alias-name", type: "text", value: entries.length ? entries[0][0] : "production", required: true });
    const versionSelect = el("select", { id: "alias-version" }, ready.map((v) => el("option", { value: v }, `v${v}`)));
    return el(
      "form",
      {
        class: "aliases",
        onsubmit: (event) => {
          event.preventDefault();
          act("PUT", `/v1/admin/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(aliasInput.value.trim())}`, { version: Number(versionSelect.value) });
        },
      },
      el("h3", {}, "Aliases"),
      entries.length
        ? el("ul", { id: "aliases" }, entries.map(([alias, version]) => el("li", { "data-alias": alias }, `${alias} → v${version}`)))
        : el("p", { class: "muted" }, "No alias yet: requests name a version, or get the newest ready one."),
      el("div", { class: "inline" }, el("label", { for: "alias-name" }, "Alias"), aliasInput, el("label", { for: "alias-version" }, "points at"), versionSelect, el("button", { type: "submit" }, "Move")),
    );
  }

  function uploadForm() {
    const file = el("input", { id: "upload-file", type: "file", required: true });
    const yaml = el("input", { id: "upload-yaml", type: "file", accept: ".yaml,.yml" });
    const alias = el("input", { id: "upload-alias", type: "text", placeholder: "none" });
    const progress = el("progress", { max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
    const drop = el("div", { class: "drop", tabindex: 0 }, "Drop a model file here, or choose one below.");
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      if (event.dataTransfer.files.length) file.files = event.dataTransfer.files;
    });
    return el(
      "form",
      {
        class: "upload",
        onsubmit: (event) => {
          event.preventDefault();
          if (!file.files.length) return;
          const data = new FormData();
          data.append("file", file.files[0]);
          if (yaml.files.length) data.append("model_yaml", yaml.files[0]);
          const query = alias.value.trim() ? `?alias=${encodeURIComponent(alias.value.trim())}` : "";
          // XMLHttpRequest, not fetch: it reports the upload's progress.
          const request = new XMLHttpRequest();
          request.open("POST", `/v1/admin/models/${encodeURIComponent(name)}/versions${query}`);
          request.setRequestHeader("Authorization", `Bearer ${sessionStorage.getItem(ADMIN_KEY)}`);
          request.setRequestHeader("Accept", "application/json");
          progress.hidden = false;
          request.upload.addEventListener("progress", (e) => {
            if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total;
          });
          request.addEventListener("load", async () => {
            let body;
            try {
              body = JSON.parse(request.responseText);
            } catch {
              body = { message: `the server answered ${request.status}` };
            }
            await report(request.status >= 200 && request.status < 300, body);
          });
          request.addEventListener("error", () => report(false, { message: "the upload did not reach the server" }));
          request.send(data);
        },
      },
      el("h3", {}, "Upload a new version"),
      drop,
      el("div", { class: "field" }, el("label", { for: "upload-file" }, "Model file"), file),
      el("div", { class: "field" }, el("label", { for: "upload-yaml" }, "model.yaml (optional)"), yaml),
      el("div", { class: "field" }, el("label", { for: "upload-alias" }, "Point this alias at it (optional)"), alias),
      el("p", {}, el("button", { type: "submit" }, "Upload"), " ", progress),
    );
  }

  refresh();
  return card;
}
