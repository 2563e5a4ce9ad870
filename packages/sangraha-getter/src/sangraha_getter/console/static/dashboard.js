// The dashboard: the store's gauges from /metrics (objects by status, bytes, dedup savings,
// queue depth), objects and bytes of each kind in one bucket (counted from its listing,
// up to a bound), and its recent failures with their reasons.

import { $, h, clear, size, when, badge, say } from "./dom.js";
import { call, listObjects } from "./api.js";
import { buckets, loadBuckets } from "./buckets.js";
import { hrefOf } from "./browser.js";

const KINDS = ["json", "image", "pdf", "opaque"];
const COUNT_PAGES = 5;

/** Prometheus text: {name: [{labels, value}]} for the sangraha_* samples. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("sangraha_")) continue;
    const match = /^([a-z_]+)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[3] || "").matchAll(/([a-z_]+)="([^"]*)"/g)) labels[pair[1]] = pair[2];
    (out[match[1]] = out[match[1]] || []).push({ labels, value: Number(match[4]) });
  }
  return out;
}

function gauge(metrics, name, labels) {
  const samples = metrics[name] || [];
  const found = samples.find((s) => Object.entries(labels || {}).every(([k, v]) => s.labels[k] === v));
  return found ? found.value : null;
}

function tile(label, value, id) {
  return h("div", { className: "tile", id }, h("div", { className: "label", text: label }),
    h("div", { className: "value", text: value === null ? "n/a" : value }));
}

async function tiles() {
  const box = clear($("tiles"));
  let metrics = {};
  try { metrics = parseMetrics(await (await call("/metrics")).text()); }
  catch (error) { box.append(h("p", { className: "note", text: `No metrics: ${error.message}` })); return; }
  const num = (v) => (v === null ? null : String(Math.round(v)));
  const bytes = (v) => (v === null ? null : size(v));
  box.append(
    tile("Ready objects", num(gauge(metrics, "sangraha_objects", { status: "ready" })), "tile-ready"),
    tile("Pending", num(gauge(metrics, "sangraha_objects", { status: "pending" })), "tile-pending"),
    tile("Failed", num(gauge(metrics, "sangraha_objects", { status: "failed" })), "tile-failed"),
    tile("Bytes of objects", bytes(gauge(metrics, "sangraha_object_bytes")), "tile-bytes"),
    tile("Bytes stored", bytes(gauge(metrics, "sangraha_stored_bytes")), "tile-stored"),
    tile("Saved by dedup", bytes(gauge(metrics, "sangraha_dedup_saved_bytes")), "tile-dedup"),
    tile("Queue depth", num(gauge(metrics, "sangraha_queue_depth")), "tile-queue"));
}

async function countKind(bucket, kind) {
  let count = 0;
  let bytes = 0;
  let cursor = null;
  for (let i = 0; i < COUNT_PAGES; i++) {
    const params = [["kind", kind], ["limit", "1000"]];
    if (cursor) params.push(["cursor", cursor]);
    const page = await listObjects(bucket, params);
    for (const r of page.items) { count++; bytes += r.size; }
    cursor = page.next_cursor;
    if (!cursor) return { count, bytes, more: false };
  }
  return { count, bytes, more: true };
}

let generation = 0;

async function byKind(bucket) {
  // A later call (another bucket chosen, a refresh) wins over one still under way.
  const mine = ++generation;
  const body = document.createDocumentFragment();
  const failures = document.createDocumentFragment();
  if (!bucket) { clear($("kind-rows")); clear($("failures")); return; }
  const counts = await Promise.all(KINDS.map((k) => countKind(bucket, k).catch(() => null)));
  const total = counts.reduce((t, c) => t + (c ? c.bytes : 0), 0) || 1;
  KINDS.forEach((kind, i) => {
    const c = counts[i];
    const bar = h("div", { className: "bar", role: "img",
      "aria-label": c ? `${Math.round((100 * c.bytes) / total)}% of bytes` : "unknown" });
    if (c) bar.style.width = `${(100 * c.bytes) / total}%`;
    body.append(h("tr", { dataset: { kind } }, h("td", { text: kind }),
      h("td", { className: "num", text: c ? `${c.count}${c.more ? "+" : ""}` : "?" }),
      h("td", { className: "num", text: c ? size(c.bytes) : "?" }), h("td", {}, bar)));
  });
  try {
    const page = await listObjects(bucket, [["status", "failed"], ["limit", "20"]]);
    const recent = page.items.slice().sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
    for (const r of recent) {
      failures.append(h("li", {}, badge(r.status),
        h("a", { href: hrefOf(bucket, r.key.slice(0, r.key.lastIndexOf("/") + 1), r.key), text: r.key, className: "mono" }),
        h("span", { className: "note", text: r.error || "" }),
        h("span", { className: "note", text: when(r.updated_at) })));
    }
    if (!recent.length) failures.append(h("li", { className: "note", text: "No failures in this bucket." }));
  } catch (error) { failures.append(h("li", { className: "note", text: error.message })); }
  if (mine !== generation) return;
  $("kind-rows").replaceChildren(body);
  $("failures").replaceChildren(failures);
}

export async function loadDashboard() {
  say("");
  const select = $("dashboard-bucket");
  const chosen = select.value;
  await Promise.all([tiles(), (buckets.length ? Promise.resolve(buckets) : loadBuckets()).catch((error) => {
    if (error.status === 401) throw error;
    return [];
  })]);
  clear(select);
  for (const b of buckets) select.append(h("option", { value: b.name, text: b.name }));
  if (chosen && buckets.some((b) => b.name === chosen)) select.value = chosen;
  await byKind(select.value);
}

export function initDashboard() {
  $("dashboard-refresh").addEventListener("click", () => loadDashboard());
  $("dashboard-bucket").addEventListener("change", () => byKind($("dashboard-bucket").value));
}
