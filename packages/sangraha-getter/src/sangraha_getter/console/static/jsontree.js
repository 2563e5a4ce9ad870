// A JSON document as a collapsible tree of <details> elements: keyboard-operable as they
// are, every key and value set as text. Large arrays and objects show their first entries.

import { h } from "./dom.js";

const MAX_CHILDREN = 200;
const OPEN_DEPTH = 2;

function scalar(value) {
  if (value === null) return h("span", { className: "z", text: "null" });
  switch (typeof value) {
    case "string": return h("span", { className: "s", text: JSON.stringify(value) });
    case "number": return h("span", { className: "n", text: String(value) });
    case "boolean": return h("span", { className: "b", text: String(value) });
    default: return h("span", { text: String(value) });
  }
}

function node(label, value, depth) {
  const labelEl = label === null ? null : h("span", { className: "k", text: label + ": " });
  if (value === null || typeof value !== "object") {
    return h("li", {}, labelEl, scalar(value));
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [String(i), v]) : Object.entries(value);
  const summary = isArray ? `[${entries.length}]` : `{${entries.length}}`;
  const list = h("ul", {});
  for (const [k, v] of entries.slice(0, MAX_CHILDREN)) list.append(node(k, v, depth + 1));
  if (entries.length > MAX_CHILDREN) {
    list.append(h("li", { className: "note", text: `... ${entries.length - MAX_CHILDREN} more` }));
  }
  const details = h("details", { open: depth < OPEN_DEPTH },
    h("summary", {}, labelEl, h("span", { className: "note", text: summary })), list);
  return h("li", {}, details);
}

/** The tree of ``value``, in a labelled container. */
export function jsonTree(value, label) {
  return h("div", { className: "tree", role: "group", "aria-label": label || "JSON document" },
    h("ul", {}, node(null, value, 0)));
}
