// The detail panel: a preview of the object by kind, its record, its versions. Content is
// fetched with the key and shown through blob: URLs (the console's policy allows blob:
// images and frames), so the sandbox headers on content answers stay as they are. PDFs are
// drawn on a canvas by the vendored pdf.js, from bytes fetched the same way.

import { $, h, clear, badge, size, when, say, confirmDialog } from "./dom.js";
import { call, json, enc, keyPath, objectPath, versionsOf, writeUrl } from "./api.js";
import { jsonTree } from "./jsontree.js";

const JSON_WHOLE = 2 * 1024 * 1024;
const JSON_HEAD = 64 * 1024;
// Fit the page to the panel, but a small page is not blown up past twice its size.
const PDF_MAX_SCALE = 2;
let urls = [];
let pdfjs = null;
let pdfTask = null;
let current = null;
let onChanged = () => {};

function blobUrl(blob) {
  const url = URL.createObjectURL(blob);
  urls.push(url);
  return url;
}
function releaseUrls() {
  for (const url of urls) URL.revokeObjectURL(url);
  urls = [];
  closePdf();
}

// pdf.js is 1.6 MB with its worker: loaded on the first PDF shown, not with the page.
function loadPdfjs() {
  if (!pdfjs) {
    pdfjs = import("./vendor/pdfjs/pdf.min.mjs").then((lib) => {
      lib.GlobalWorkerOptions.workerSrc = new URL("./vendor/pdfjs/pdf.worker.min.mjs", import.meta.url).href;
      return lib;
    });
    pdfjs.catch(() => { pdfjs = null; }); // a failed load is tried again with the next PDF
  }
  return pdfjs;
}

// Each document has its own worker: ending the task stops it and frees the parsed file.
function closePdf() {
  if (pdfTask) pdfTask.destroy().catch(() => {});
  pdfTask = null;
}

function contentUrl(record) { return `/v1/objects/${enc(record.id)}/content`; }

function fact(list, name, value) {
  if (value === null || value === undefined || value === "") return;
  list.append(h("dt", { text: name }), h("dd", {}, value));
}

function kvTable(entries, caption) {
  if (!entries.length) return h("p", { className: "note", text: "None." });
  return h("table", { className: "kv" }, h("caption", { className: "sr-only", text: caption }),
    h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row", className: "mono", text: k }),
      h("td", { text: typeof v === "string" ? v : JSON.stringify(v) })))));
}

async function previewImage(record, box) {
  const blob = await (await call(contentUrl(record))).blob();
  const img = h("img", { alt: `Preview of ${record.key}`, src: blobUrl(blob) });
  const dims = h("p", { className: "note", id: "preview-dims" });
  img.addEventListener("load", () => {
    dims.textContent = `${img.naturalWidth} x ${img.naturalHeight} px, ${record.content_type}, ${size(record.size)}`;
  });
  clear(box).append(img, dims);
}

function pdfFacts(record) {
  const x = record.extracted || {};
  const parts = [];
  const pages = x.pages ?? x.page_count ?? x.num_pages;
  if (pages !== undefined) parts.push(`${pages} page${pages === 1 ? "" : "s"}`);
  if (x.title) parts.push(`title "${x.title}"`);
  if (x.author) parts.push(`by ${x.author}`);
  if (x.version || x.pdf_version) parts.push(`PDF ${x.version || x.pdf_version}`);
  return parts.length ? parts.join(", ") : "PDF";
}

function pdfFactList(record) {
  const x = record.extracted || {};
  const list = h("dl", { className: "facts" });
  fact(list, "Pages", x.pages === undefined || x.pages === null ? "" : String(x.pages));
  fact(list, "Title", x.title || "");
  fact(list, "Author", x.author || "");
  fact(list, "PDF version", x.pdf_version || x.version || "");
  fact(list, "Encrypted", x.encrypted === undefined ? "" : (x.encrypted ? "yes" : "no"));
  return list;
}

function pdfFailure(error) {
  if (error && error.name === "PasswordException") {
    return "This PDF is protected by a password, so it is not drawn here: download it to open it.";
  }
  const why = error && error.message ? error.message : String(error);
  return `This PDF could not be drawn (${why}): download it to open it elsewhere.`;
}

async function drawPdfPage(doc, number, canvas, box, key) {
  const page = await doc.getPage(number);
  const natural = page.getViewport({ scale: 1 });
  const room = Math.max(160, box.clientWidth - 2);
  const viewport = page.getViewport({ scale: Math.min(room / natural.width, PDF_MAX_SCALE) });
  // Drawn at the screen's pixel density; the style scales it back to the panel's width.
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${Math.floor(viewport.width)}px`;
  canvas.setAttribute("aria-label", `Page ${number} of ${doc.numPages} of ${key}`);
  await page.render({
    canvas, viewport, transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0],
  }).promise;
  page.cleanup();
  canvas.dataset.page = String(number);
}

async function previewPdf(record, box) {
  // Chromium's own viewer does not draw inside a sandboxed frame, and stored bytes are never
  // shown unsandboxed on the console's origin: pdf.js parses them in its worker and draws
  // the page on a canvas. Nothing in the PDF runs: pdf.js evaluates no PDF JavaScript
  // without its scripting sandbox, which is not shipped, and compiles no fonts with eval.
  const canvas = h("canvas", { id: "pdf-canvas", role: "img", "aria-label": `First page of ${record.key}` });
  const prev = h("button", { type: "button", id: "pdf-prev", className: "ghost", text: "Previous", disabled: true });
  const next = h("button", { type: "button", id: "pdf-next", className: "ghost", text: "Next", disabled: true });
  const where = h("span", { id: "pdf-where", "aria-live": "polite" });
  const pager = h("div", { className: "row pdf-pager", role: "group", "aria-label": "PDF pages", hidden: true },
    prev, where, next);
  const note = h("p", { className: "note", id: "pdf-status", text: "Drawing the first page..." });
  const sheet = h("div", { className: "pdf-sheet" }, canvas);
  clear(box).append(h("div", { className: "pdf-preview" },
    h("div", { className: "pdf-view" }, sheet, pager, note),
    h("div", { className: "pdf-facts" },
      h("p", { className: "note", id: "preview-pdf", text: pdfFacts(record) }), pdfFactList(record))));
  const fail = (error) => {
    if (current !== record) return; // another object is shown by now
    canvas.hidden = true;
    pager.hidden = true;
    note.id = "pdf-error";
    note.className = "note error";
    note.textContent = pdfFailure(error);
    note.hidden = false;
  };
  let doc;
  try {
    const [lib, response] = await Promise.all([loadPdfjs(), call(contentUrl(record))]);
    const data = new Uint8Array(await response.arrayBuffer());
    if (current !== record) return;
    closePdf();
    const task = lib.getDocument({
      data,
      isEvalSupported: false, // fonts are drawn from paths, never compiled with new Function
      enableXfa: false,
      // No CMaps, standard font data or decoders are fetched: none is set, and none shipped.
      useSystemFonts: true,
      stopAtErrors: false,
    });
    pdfTask = task;
    doc = await task.promise;
    if (current !== record) return;
    await drawPdfPage(doc, 1, canvas, box, record.key);
  } catch (error) { fail(error); return; }
  let shown = 1;
  const settle = () => {
    where.textContent = `Page ${shown} of ${doc.numPages}`;
    prev.disabled = shown <= 1;
    next.disabled = shown >= doc.numPages;
  };
  const go = async (step) => {
    const wanted = shown + step;
    if (wanted < 1 || wanted > doc.numPages) return;
    prev.disabled = next.disabled = true; // one drawing on the canvas at a time
    note.textContent = `Drawing page ${wanted}...`;
    note.hidden = false;
    try { await drawPdfPage(doc, wanted, canvas, box, record.key); }
    catch (error) { fail(error); return; }
    shown = wanted;
    note.hidden = true;
    settle();
  };
  prev.addEventListener("click", () => go(-1));
  next.addEventListener("click", () => go(1));
  note.hidden = true;
  pager.hidden = false;
  settle();
}

async function previewJson(record, box) {
  if (record.size <= JSON_WHOLE) {
    const text = await (await call(contentUrl(record))).text();
    let value;
    try { value = JSON.parse(text); } catch (e) {
      clear(box).append(h("pre", { className: "raw", text }));
      return;
    }
    clear(box).append(jsonTree(value, `Contents of ${record.key}`));
    return;
  }
  const head = await (await call(contentUrl(record), { headers: { Range: `bytes=0-${JSON_HEAD - 1}` } })).text();
  clear(box).append(
    h("p", { className: "note", text: `A large document (${size(record.size)}): its first ${size(JSON_HEAD)} as text. Download it for the rest.` }),
    h("pre", { className: "raw", text: head }));
}

async function preview(record) {
  const box = clear($("preview"));
  if (record.status !== "ready") {
    const text = record.status === "pending" ? "Still being processed; refresh in a moment."
      : "Processing failed, so there is nothing to show: see the reason below.";
    box.append(h("p", { className: "note", text }));
    return;
  }
  box.append(h("p", { className: "note", text: "Loading preview..." }));
  try {
    if (record.kind === "image") await previewImage(record, box);
    else if (record.kind === "pdf") await previewPdf(record, box);
    else if (record.kind === "json") await previewJson(record, box);
    else clear(box).append(h("p", { className: "note", text: `No preview for ${record.content_type}; download it instead.` }));
  } catch (error) {
    clear(box).append(h("p", { className: "note", text: `Preview failed: ${error.message}` }));
  }
}

function facts(record) {
  const list = clear($("detail-facts"));
  fact(list, "Status", badge(record.status));
  if (record.status === "failed") {
    fact(list, "Reason", h("span", { id: "detail-reason", text: record.error || "unknown" }));
    fact(list, "Failure", record.failure_kind || "");
  }
  fact(list, "Kind", record.kind);
  fact(list, "Content type", record.content_type);
  fact(list, "Size", `${size(record.size)} (${record.size} bytes)`);
  fact(list, "Digest", h("span", { className: "mono", text: record.digest }));
  fact(list, "ETag", record.etag || "");
  fact(list, "Version", h("span", { className: "mono", text: record.id }));
  fact(list, "Created", when(record.created_at));
  fact(list, "Updated", when(record.updated_at));
  clear($("detail-user")).append(kvTable(Object.entries(record.metadata || {}), "User metadata"));
  const extracted = record.extracted || {};
  clear($("detail-extracted")).append(Object.keys(extracted).length
    ? jsonTree(extracted, "Extracted metadata") : h("p", { className: "note", text: "None." }));
}

async function versions(record) {
  const list = clear($("detail-versions"));
  let found;
  try { found = await versionsOf(record.bucket, record.key); }
  catch (error) { list.append(h("li", { className: "note", text: error.message })); return; }
  for (const v of found.slice().reverse()) {
    const isShown = v.id === current.id;
    list.append(h("li", { dataset: { version: v.id } },
      h("button", { type: "button", className: "linkish mono", text: v.id.slice(0, 12),
        title: v.id, "aria-current": isShown ? "true" : null,
        onclick: () => show(v.bucket, v.key, v.id) }),
      badge(v.status), h("span", { text: size(v.size) }), h("span", { className: "note", text: when(v.created_at) }),
      h("button", { type: "button", className: "ghost", text: "Delete version",
        "aria-label": `Delete version ${v.id}`, onclick: () => removeVersion(v) })));
  }
  if (!found.length) list.append(h("li", { className: "note", text: "No versions." }));
}

async function removeVersion(v) {
  if (!await confirmDialog("Delete this version?", `Version ${v.id} of ${v.key} will be deleted for good.`, "Delete version")) return;
  try {
    await call(writeUrl(`${objectPath(v.bucket, v.key)}?version=${enc(v.id)}`), { method: "DELETE" });
    say(`Deleted version ${v.id.slice(0, 12)} of ${v.key}.`);
    onChanged();
    try { await show(v.bucket, v.key); } catch (e) { hide(); }
  } catch (error) { say(`Delete failed: ${error.message}`, true); }
}

async function removeAll() {
  const record = current;
  if (!record) return;
  if (!await confirmDialog("Delete this object?", `Every version of ${record.key} will be deleted for good.`)) return;
  try {
    await call(writeUrl(objectPath(record.bucket, record.key)), { method: "DELETE" });
    say(`Deleted ${record.key}.`);
    hide();
    onChanged();
  } catch (error) { say(`Delete failed: ${error.message}`, true); }
}

async function download() {
  const record = current;
  if (!record) return;
  try {
    const blob = await (await call(contentUrl(record))).blob();
    const a = h("a", { href: URL.createObjectURL(blob), download: record.key.split("/").pop() || "download" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (error) { say(`Download failed: ${error.message}`, true); }
}

export function hide() {
  releaseUrls();
  current = null;
  $("detail").hidden = true;
  $("detail").parentElement.classList.remove("open");
  for (const row of document.querySelectorAll("#object-rows tr.selected")) row.classList.remove("selected");
}

/** Show one key (its newest version, or ``version``) in the panel. */
export async function show(bucket, key, version) {
  const url = `/v1/buckets/${enc(bucket)}/metadata/${keyPath(key)}` + (version ? `?version=${enc(version)}` : "");
  const record = await json(url);
  releaseUrls();
  current = record;
  $("detail-key").textContent = record.key;
  $("detail-download").disabled = record.status !== "ready";
  $("detail").hidden = false;
  $("detail").parentElement.classList.add("open");
  facts(record);
  // On a narrow screen the panel sits below the list: bring it into view.
  if (window.matchMedia("(max-width: 900px)").matches) $("detail").scrollIntoView({ block: "start" });
  await Promise.all([preview(record), versions(record)]);
  return record;
}

export function initDetail(changed) {
  onChanged = changed;
  $("detail-close").addEventListener("click", hide);
  $("detail-delete").addEventListener("click", removeAll);
  $("detail-download").addEventListener("click", download);
}
