"""The web console: one self-contained page that browses, uploads and deletes objects.

No build step and no outside assets. Everything it shows is written with ``textContent``
or as attribute values, never parsed as HTML, and the page's Content-Security-Policy
allows nothing but its own inline script and style.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse

__all__ = ["CONSOLE_HTML", "router"]

router = APIRouter(include_in_schema=False)

_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self' http: https:; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

CONSOLE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sangraha console</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #222; }
 fieldset { border: 1px solid #ccc; margin: 0 0 1rem; }
 label { margin-right: .8rem; }
 table { border-collapse: collapse; width: 100%; }
 th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #eee; }
 tr.row { cursor: pointer; } tr.row:hover { background: #f4f7ff; }
 pre { background: #f6f6f6; padding: .75rem; overflow: auto; max-height: 24rem; }
 #status { min-height: 1.2em; color: #555; } #status.error { color: #b00020; }
</style>
</head>
<body>
<h1>Sangraha</h1>
<fieldset>
 <legend>Connection</legend>
 <label>Bucket <input id="bucket" value="default" required></label>
 <label>Write URL <input id="writer" placeholder="same origin" size="28"></label>
 <label>Access key <input id="apikey" type="password" autocomplete="off"
  placeholder="<id>.<secret>"></label>
</fieldset>
<fieldset>
 <legend>Browse</legend>
 <label>Prefix <input id="prefix"></label>
 <label>Kind <select id="kind"><option value="">any</option><option>json</option>
  <option>image</option><option>pdf</option><option>opaque</option></select></label>
 <button id="list">List</button> <button id="more" disabled>Next page</button>
</fieldset>
<fieldset>
 <legend>Upload</legend>
 <label>File <input id="file" type="file"></label>
 <label>Key <input id="key" placeholder="the file name"></label>
 <button id="upload">Upload</button>
</fieldset>
<p id="status" role="status"></p>
<table><thead><tr><th>Key</th><th>Kind</th><th>Status</th><th>Size</th><th>Updated</th></tr>
</thead><tbody id="rows"></tbody></table>
<section id="detail" hidden>
 <h2 id="detail-key"></h2>
 <p><a id="download" download>Download</a> <button id="delete">Delete all versions</button></p>
 <pre id="record"></pre>
</section>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let cursor = null;
let selected = null;

function say(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}
function bucket() { return $("bucket").value.trim(); }
function keyPath(key) { return key.split("/").map(encodeURIComponent).join("/"); }
function objectPath(key) {
  return "/v1/buckets/" + encodeURIComponent(bucket()) + "/objects/" + keyPath(key);
}
function writer() { return $("writer").value.trim().replace(/\\/+$/, ""); }
function headers(extra) {
  const h = Object.assign({}, extra || {});
  if ($("apikey").value) { h["Authorization"] = "Bearer " + $("apikey").value; }
  return h;
}
async function call(url, options) {
  const response = await fetch(url, Object.assign({ headers: headers() }, options || {}));
  if (!response.ok) {
    let detail = response.status + " " + response.statusText;
    try { const p = await response.json(); detail = p.title + ": " + (p.detail || ""); }
    catch (e) { /* not a problem document */ }
    throw new Error(detail);
  }
  return response;
}
function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
}
function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}
async function list(next) {
  if (!next) { $("rows").replaceChildren(); cursor = null; }
  const params = new URLSearchParams({ limit: "50" });
  if ($("prefix").value) { params.set("prefix", $("prefix").value); }
  if ($("kind").value) { params.set("kind", $("kind").value); }
  if (next && cursor) { params.set("cursor", cursor); }
  say("Loading...");
  try {
    const url = "/v1/buckets/" + encodeURIComponent(bucket()) + "/objects?" + params;
    const page = await (await call(url)).json();
    for (const record of page.items) {
      const row = document.createElement("tr");
      row.className = "row";
      cell(row, record.key);
      cell(row, record.kind);
      cell(row, record.status);
      cell(row, size(record.size));
      cell(row, new Date(record.updated_at).toLocaleString());
      row.addEventListener("click", () => show(record.key));
      $("rows").appendChild(row);
    }
    cursor = page.next_cursor;
    $("more").disabled = !cursor;
    say($("rows").children.length + " object(s)" + (cursor ? ", more to load" : ""));
  } catch (error) { say(error.message, true); }
}
async function show(key) {
  try {
    const url = "/v1/buckets/" + encodeURIComponent(bucket()) + "/metadata/" + keyPath(key);
    const record = await (await call(url)).json();
    selected = record;
    $("detail-key").textContent = record.key;
    $("record").textContent = JSON.stringify(record, null, 2);
    $("download").href = "/v1/objects/" + encodeURIComponent(record.id) + "/content";
    $("download").hidden = record.status !== "ready";
    $("detail").hidden = false;
  } catch (error) { say(error.message, true); }
}
async function download(event) {
  // With an API key the browser cannot follow a plain link: fetch, then save the bytes.
  if (!$("apikey").value || !selected) { return; }
  event.preventDefault();
  try {
    const blob = await (await call($("download").href)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = selected.key.split("/").pop() || "download";
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (error) { say(error.message, true); }
}
async function upload() {
  const file = $("file").files[0];
  if (!file) { say("Choose a file first.", true); return; }
  const key = $("key").value.trim() || file.name;
  say("Uploading " + key + "...");
  try {
    const response = await call(writer() + objectPath(key), {
      method: "PUT",
      body: file,
      headers: headers({ "Content-Type": file.type || "application/octet-stream" }),
    });
    const record = await response.json();
    say("Uploaded " + record.key + " (" + record.status + ").");
    await list(false);
  } catch (error) { say("Upload failed: " + error.message, true); }
}
async function remove() {
  if (!selected || !confirm("Delete every version of " + selected.key + "?")) { return; }
  try {
    await call(writer() + objectPath(selected.key), { method: "DELETE" });
    $("detail").hidden = true;
    say("Deleted " + selected.key + ".");
    selected = null;
    await list(false);
  } catch (error) { say("Delete failed: " + error.message, true); }
}
// The key lives in this tab's sessionStorage: gone with the tab, never in a URL or cookie.
const KEY_ITEM = "sangraha.access-key";
$("apikey").value = sessionStorage.getItem(KEY_ITEM) || "";
$("apikey").addEventListener("change", () => {
  const value = $("apikey").value.trim();
  if (value) { sessionStorage.setItem(KEY_ITEM, value); }
  else { sessionStorage.removeItem(KEY_ITEM); }
});
$("list").addEventListener("click", () => list(false));
$("more").addEventListener("click", () => list(true));
$("upload").addEventListener("click", upload);
$("delete").addEventListener("click", remove);
$("download").addEventListener("click", download);
// A link such as /console?bucket=docs&prefix=reports/ opens that listing directly.
const query = new URLSearchParams(window.location.search);
if (query.get("prefix")) { $("prefix").value = query.get("prefix"); }
if (query.get("bucket")) { $("bucket").value = query.get("bucket"); list(false); }
</script>
</body>
</html>
"""


@router.get("/console", response_class=HTMLResponse)
async def console() -> HTMLResponse:
    return HTMLResponse(
        CONSOLE_HTML,
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
