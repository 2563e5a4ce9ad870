// The API the console sits on: every request carries the access key from this tab's
// sessionStorage (never a URL or a cookie); errors become ApiError with the problem's text.

const KEY_ITEM = "sangraha.access-key";
const WRITER_ITEM = "sangraha.write-url";

export class ApiError extends Error {
  constructor(status, title, detail, problem) {
    super(detail ? `${title}: ${detail}` : title);
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
  }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY_ITEM) || ""; },
  set key(value) {
    if (value) sessionStorage.setItem(KEY_ITEM, value); else sessionStorage.removeItem(KEY_ITEM);
  },
  get writer() { return sessionStorage.getItem(WRITER_ITEM) || ""; },
  set writer(value) {
    const v = (value || "").trim().replace(/\/+$/, "");
    if (v) sessionStorage.setItem(WRITER_ITEM, v); else sessionStorage.removeItem(WRITER_ITEM);
  },
};

export function authHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  if (session.key) headers["Authorization"] = "Bearer " + session.key;
  return headers;
}

export const enc = encodeURIComponent;
export function keyPath(key) { return key.split("/").map(enc).join("/"); }
export function objectPath(bucket, key) { return `/v1/buckets/${enc(bucket)}/objects/${keyPath(key)}`; }
export function writeUrl(path) { return session.writer + path; }

export async function problemOf(response) {
  let title = `${response.status} ${response.statusText}`.trim();
  let detail = "";
  let problem = null;
  try {
    problem = await response.json();
    if (problem && problem.title) title = `${response.status} ${problem.title}`;
    if (problem && problem.detail) detail = String(problem.detail);
  } catch (e) { /* not a problem document */ }
  return new ApiError(response.status, title, detail, problem);
}

export async function call(url, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = authHeaders(opts.headers);
  let response;
  try { response = await fetch(url, opts); }
  catch (e) { throw new ApiError(0, "Network error", e.message); }
  if (!response.ok) throw await problemOf(response);
  return response;
}

export async function json(url, options) { return (await call(url, options)).json(); }

export async function listObjects(bucket, params) {
  const query = new URLSearchParams();
  for (const [name, value] of params) if (value !== "" && value !== null && value !== undefined) query.append(name, value);
  return json(`/v1/buckets/${enc(bucket)}/objects?${query}`);
}

/** Every version of one key, newest last (key order, then version id). */
export async function versionsOf(bucket, key) {
  const found = [];
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const params = [["prefix", key], ["versions", "true"], ["limit", "1000"]];
    if (cursor) params.push(["cursor", cursor]);
    const page = await listObjects(bucket, params);
    let past = false;
    for (const record of page.items) {
      if (record.key === key) found.push(record);
      else if (record.key > key) past = true;
    }
    cursor = page.next_cursor;
    if (!cursor || past) break;
  }
  return found;
}

/** A request with upload progress (fetch has none): resolves {status, body, response}. */
export function send(method, url, body, headers, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(authHeaders(headers))) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.total));
    xhr.addEventListener("load", () => {
      let parsed = null;
      try { parsed = JSON.parse(xhr.responseText); } catch (e) { /* empty or not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) { resolve({ status: xhr.status, body: parsed }); return; }
      const title = parsed && parsed.title ? `${xhr.status} ${parsed.title}` : `${xhr.status} ${xhr.statusText}`;
      reject(new ApiError(xhr.status, title, parsed && parsed.detail ? String(parsed.detail) : "", parsed));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "Network error", "the connection failed")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "Cancelled", "")));
    if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}
