// Uploads: many files by drag and drop or the file picker. Small files go in one PUT with
// ?wait= so the final status (ready, or failed with its reason) shows at once; big ones
// through an upload session, part by part, with progress, and resume: the session's id is
// kept per file so a retry (or the same file chosen again after a reload) asks the
// session which parts it holds and sends only the rest.

import { $, h, size, metaRows } from "./dom.js";
import { send, json, enc, objectPath, writeUrl, ApiError } from "./api.js";

const SESSION_THRESHOLD = 8 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;
const WAIT = "20";
const RESUME_ITEM = "sangraha.uploads";
const TYPES = {
  json: "application/json", png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg",
  gif: "image/gif", webp: "image/webp", tif: "image/tiff", tiff: "image/tiff",
  bmp: "image/bmp", pdf: "application/pdf",
};
let uploadMeta;
let target = () => ({ bucket: "", prefix: "" });
let uploaded = () => {};

function typeOf(file) {
  if (file.type) return file.type;
  const ext = file.name.includes(".") ? file.name.split(".").pop().toLowerCase() : "";
  return TYPES[ext] || "application/octet-stream";
}

function resumable() {
  try { return JSON.parse(localStorage.getItem(RESUME_ITEM) || "{}"); } catch (e) { return {}; }
}
function remember(id, sessionId) {
  const all = resumable();
  if (sessionId) all[id] = sessionId; else delete all[id];
  localStorage.setItem(RESUME_ITEM, JSON.stringify(all));
}

function explain(error) {
  if (!(error instanceof ApiError)) return String(error.message || error);
  if (error.status === 415) return `Not accepted here (415): ${error.detail || "this bucket takes only the kinds it validates"}`;
  if (error.status === 413) return `Too large (413): ${error.detail}`;
  if (error.status === 403) return `Not allowed (403): ${error.detail || "this key may not write here"}`;
  return error.message;
}

function finalText(record) {
  if (record.status === "ready") return { text: `Stored: ${record.kind}, ${size(record.size)}.`, cls: "ok" };
  if (record.status === "failed") return { text: `Validation failed: ${record.error || "no reason given"}`, cls: "error" };
  return { text: "Uploaded; still being processed.", cls: "" };
}

class Upload {
  constructor(file, bucket, key, metadata) {
    this.file = file; this.bucket = bucket; this.key = key; this.metadata = metadata;
    this.id = [bucket, key, file.name, file.size, file.lastModified].join("|");
    this.controller = null;
    this.progress = h("progress", { max: String(file.size || 1), value: "0", "aria-label": `Progress of ${key}` });
    this.msg = h("p", { className: "msg", role: "status" });
    this.retry = h("button", { type: "button", className: "ghost", text: "Resume", hidden: true,
      "aria-label": `Resume ${key}`, onclick: () => this.start() });
    this.cancel = h("button", { type: "button", className: "ghost", text: "Cancel",
      "aria-label": `Cancel ${key}`, onclick: () => this.controller && this.controller.abort() });
    this.el = h("li", { dataset: { key } },
      h("span", { className: "name", text: `${key} (${size(file.size)})` }),
      h("span", { className: "row" }, this.retry, this.cancel), this.progress, this.msg);
  }

  say(text, cls) { this.msg.textContent = text; this.msg.className = "msg " + (cls || ""); this.el.dataset.state = cls || "busy"; }

  metaHeaders() {
    const headers = {};
    for (const [name, value] of this.metadata) headers["X-Sangraha-Meta-" + name] = value;
    return headers;
  }

  async start() {
    this.retry.hidden = true;
    this.cancel.hidden = false;
    this.controller = new AbortController();
    try {
      const record = this.file.size > SESSION_THRESHOLD ? await this.inParts() : await this.whole();
      const { text, cls } = finalText(record);
      this.progress.value = this.file.size || 1;
      this.say(text, cls);
      this.cancel.hidden = true;
      uploaded(record);
    } catch (error) {
      this.say(explain(error), "error");
      this.cancel.hidden = true;
      // A session can go on where it stopped; a single PUT starts again.
      this.retry.textContent = this.file.size > SESSION_THRESHOLD ? "Resume" : "Retry";
      this.retry.hidden = error instanceof ApiError && [400, 403, 413, 415].includes(error.status);
    }
  }

  async whole() {
    this.say("Uploading...");
    const url = writeUrl(`${objectPath(this.bucket, this.key)}?wait=${WAIT}`);
    const headers = Object.assign({ "Content-Type": typeOf(this.file) }, this.metaHeaders());
    const done = await send("PUT", url, this.file, headers, (loaded) => { this.progress.value = loaded; }, this.controller.signal);
    return done.body;
  }

  async session() {
    const known = resumable()[this.id];
    if (known) {
      try {
        const found = await json(writeUrl(`/v1/uploads/${enc(known)}`));
        if (found.status === "open") return found;
      } catch (e) { /* expired or gone: open another */ }
      remember(this.id, null);
    }
    const opened = await send("POST", writeUrl(`/v1/buckets/${enc(this.bucket)}/uploads`), JSON.stringify({
      key: this.key, content_type: typeOf(this.file), size: this.file.size,
      metadata: Object.fromEntries(this.metadata),
    }), { "Content-Type": "application/json" }, null, this.controller.signal);
    remember(this.id, opened.body.id);
    return opened.body;
  }

  async inParts() {
    this.say("Opening an upload session...");
    const session = await this.session();
    const partSize = Math.min(Math.max(PART_SIZE, session.min_part_size,
      Math.ceil(this.file.size / session.max_parts)), session.max_part_size);
    const count = Math.max(1, Math.ceil(this.file.size / partSize));
    const have = new Map((session.parts || []).map((p) => [p.number, p.size]));
    let done = 0;
    for (let n = 1; n <= count; n++) {
      const start = (n - 1) * partSize;
      const end = Math.min(start + partSize, this.file.size);
      if (have.get(n) === end - start) { done += end - start; this.progress.value = done; continue; }
      this.say(`Part ${n} of ${count}...`);
      await send("PUT", writeUrl(`/v1/uploads/${enc(session.id)}/parts/${n}`), this.file.slice(start, end),
        { "Content-Type": "application/octet-stream" },
        (loaded) => { this.progress.value = done + loaded; }, this.controller.signal);
      done += end - start;
      this.progress.value = done;
    }
    this.say("Joining the parts and checking the object...");
    const completed = await send("POST", writeUrl(`/v1/uploads/${enc(session.id)}/complete?wait=${WAIT}`),
      "{}", { "Content-Type": "application/json" }, null, this.controller.signal);
    remember(this.id, null);
    return completed.body;
  }
}

export function addFiles(files) {
  const { bucket } = target();
  if (!bucket) return;
  const prefix = $("upload-prefix").value;
  const metadata = uploadMeta.values();
  const list = $("upload-list");
  for (const file of files) {
    const upload = new Upload(file, bucket, prefix + file.name, metadata);
    list.prepend(upload.el);
    upload.start();
  }
}

export function initUpload(where, onUploaded) {
  target = where;
  uploaded = onUploaded;
  uploadMeta = metaRows($("upload-meta"), $("upload-meta-add"), "upload-meta");
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(Array.from(e.dataTransfer.files));
  });
  $("choose-files").addEventListener("click", () => $("files").click());
  $("files").addEventListener("change", () => { addFiles(Array.from($("files").files)); $("files").value = ""; });
  $("upload-toggle").addEventListener("click", () => {
    const panel = $("upload");
    panel.hidden = !panel.hidden;
    $("upload-toggle").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) $("choose-files").focus();
  });
}
