// The object browser: folders (a delimiter listing) with breadcrumbs, or a flat search by
// key prefix, kind, status and user metadata; sortable columns over the page shown; pages
// by cursor, with a stack of the cursors before so "Previous" goes back.

import { $, h, clear, badge, size, when, say, metaRows } from "./dom.js";
import { listObjects } from "./api.js";
import { show, hide } from "./preview.js";

const state = {
  bucket: "", prefix: "", cursors: [], cursor: null, next: null,
  rows: [], folders: [], sort: { by: "name", dir: 1 }, searching: false,
};
let searchMeta;
let go = () => {};

function searchParams() {
  const params = [];
  const prefix = $("search-prefix").value;
  const kind = $("search-kind").value;
  const status = $("search-status").value;
  const meta = searchMeta.values();
  if (prefix || kind || status || meta.length) {
    params.push(["prefix", state.prefix + prefix]);
    if (kind) params.push(["kind", kind]);
    if (status) params.push(["status", status]);
    for (const [name, value] of meta) params.push(["meta." + name, value]);
  }
  return params;
}

function crumbs() {
  const list = clear($("crumbs"));
  list.append(h("li", {}, h("a", { href: "#/", text: "Buckets" })));
  const parts = state.prefix ? state.prefix.split("/").slice(0, -1) : [];
  const here = [h("a", { href: hrefOf(state.bucket, ""), text: state.bucket })];
  let path = "";
  for (const part of parts) {
    path += part + "/";
    here.push(h("a", { href: hrefOf(state.bucket, path), text: part }));
  }
  const last = here[here.length - 1];
  last.setAttribute("aria-current", "page");
  for (const link of here) list.append(h("li", {}, link));
  $("browser-title").textContent = parts.length ? parts[parts.length - 1] + "/" : state.bucket;
}

export function hrefOf(bucket, prefix, openKey) {
  const query = new URLSearchParams();
  if (prefix) query.set("prefix", prefix);
  if (openKey) query.set("open", openKey);
  const text = query.toString();
  return "#/b/" + encodeURIComponent(bucket) + (text ? "?" + text : "");
}

function compare(a, b) {
  const { by, dir } = state.sort;
  const value = (r) => by === "name" ? r.key : by === "size" ? r.size : by === "updated" ? r.updated_at : r[by];
  const x = value(a);
  const y = value(b);
  return (x < y ? -1 : x > y ? 1 : 0) * dir;
}

function label(record) {
  return state.searching ? record.key : record.key.slice(state.prefix.length);
}

function render() {
  const body = clear($("object-rows"));
  const folders = state.folders.slice().sort((a, b) => (a < b ? -1 : 1) * (state.sort.by === "name" ? state.sort.dir : 1));
  for (const folder of folders) {
    const name = folder.slice(state.prefix.length);
    body.append(h("tr", { className: "folder-row" },
      h("td", {}, h("a", { className: "folder", href: hrefOf(state.bucket, folder), text: name })),
      h("td", { className: "wide-only muted", text: "folder" }), h("td", {}), h("td", { className: "num" }),
      h("td", { className: "wide-only" })));
  }
  for (const record of state.rows.slice().sort(compare)) {
    const row = h("tr", { dataset: { key: record.key } },
      h("td", {}, h("button", { type: "button", className: "linkish", text: label(record),
        "aria-label": `Open ${record.key}`, onclick: () => open(record.key, row) })),
      h("td", { className: "wide-only", text: record.kind }),
      h("td", {}, badge(record.status)),
      h("td", { className: "num", text: size(record.size) }),
      h("td", { className: "wide-only", text: when(record.updated_at) }));
    body.append(row);
  }
  $("objects-empty").hidden = state.rows.length + state.folders.length > 0;
  for (const th of $("object-head").children) {
    th.setAttribute("aria-sort", th.dataset.sort === state.sort.by
      ? (state.sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  const page = state.cursors.length + 1;
  $("page-info").textContent = `Page ${page}: ${state.folders.length ? state.folders.length + " folder(s), " : ""}${state.rows.length} object(s)`;
  $("page-prev").disabled = !state.cursors.length;
  $("page-next").disabled = !state.next;
}

async function open(key, row) {
  for (const r of document.querySelectorAll("#object-rows tr.selected")) r.classList.remove("selected");
  if (row) row.classList.add("selected");
  try { await show(state.bucket, key); } catch (error) { say(error.message, true); }
}

export async function load() {
  const search = searchParams();
  state.searching = search.length > 0;
  $("search-mode").textContent = state.searching ? "Search results under this folder: the newest version of each matching key" : "";
  const params = state.searching ? search : [["prefix", state.prefix], ["delimiter", "/"]];
  params.push(["limit", $("page-size").value]);
  if (state.cursor) params.push(["cursor", state.cursor]);
  say("Loading...");
  try {
    const page = await listObjects(state.bucket, params);
    state.rows = page.items;
    state.folders = page.prefixes || [];
    state.next = page.next_cursor;
    render();
    say("");
  } catch (error) {
    state.rows = []; state.folders = []; state.next = null;
    render();
    say(error.message, true);
    throw error;
  }
}

function reset() { state.cursors = []; state.cursor = null; state.next = null; }

/** Show ``bucket`` under ``prefix`` (a folder, ending in "/", or ""). */
export async function openFolder(bucket, prefix, openKey) {
  const changed = bucket !== state.bucket || prefix !== state.prefix;
  state.bucket = bucket;
  state.prefix = prefix;
  if (changed) { reset(); hide(); }
  $("upload-prefix").value = prefix;
  crumbs();
  try { await load(); } catch (error) { if (error.status === 401) throw error; return; }
  if (openKey) await open(openKey, document.querySelector(`#object-rows tr[data-key="${CSS.escape(openKey)}"]`));
}

export function refresh() { return load().catch(() => {}); }

export function initBrowser(navigate) {
  go = navigate;
  searchMeta = metaRows($("search-meta"), $("search-meta-add"), "search-meta");
  $("search").addEventListener("submit", (e) => { e.preventDefault(); reset(); hide(); refresh(); });
  $("search-clear").addEventListener("click", () => {
    $("search-prefix").value = ""; $("search-kind").value = ""; $("search-status").value = "";
    searchMeta.clear(); reset(); refresh();
  });
  $("browser-refresh").addEventListener("click", refresh);
  $("page-size").addEventListener("change", () => { reset(); refresh(); });
  $("page-next").addEventListener("click", () => {
    if (!state.next) return;
    state.cursors.push(state.cursor); state.cursor = state.next; refresh();
  });
  $("page-prev").addEventListener("click", () => {
    if (!state.cursors.length) return;
    state.cursor = state.cursors.pop(); refresh();
  });
  for (const th of $("object-head").children) {
    th.querySelector("button").addEventListener("click", () => {
      const by = th.dataset.sort;
      state.sort = { by, dir: state.sort.by === by ? -state.sort.dir : 1 };
      render();
    });
  }
}

export function current() { return { bucket: state.bucket, prefix: state.prefix }; }
export { go as navigate };
