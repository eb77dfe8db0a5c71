// What every page of modelport's UI shares: building elements safely, and calling the API.

export const TOKEN_KEY = "modelport-token";
export const ADMIN_KEY = "modelport-admin-token";

/** An element with attributes and children (strings become text nodes, never markup). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class NeedsToken extends Error {}

/** JSON from this server, with the token the user gave for it (kept for this tab only):
 * the admin token for the management API, the API token for the rest. */
export async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  // Management and the prediction log take the admin token.
  const admin = path.startsWith("/v1/admin/") || /^\/v1\/models\/[^/]+\/predictions/.test(path);
  const token = sessionStorage.getItem(admin ? ADMIN_KEY : TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers, credentials: "omit" });
  if (response.status === 401 && !admin) throw new NeedsToken();
  return { status: response.status, ok: response.ok, body: await jsonOf(response) };
}

export async function jsonOf(response) {
  try {
    return await response.json();
  } catch {
    return { message: `the server answered ${response.status} without JSON` };
  }
}

export function size(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function stateBadge(state) {
  return el("span", { class: `state ${state}` }, state);
}
