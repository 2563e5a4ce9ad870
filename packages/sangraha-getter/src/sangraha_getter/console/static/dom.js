// Small DOM helpers. Text is only ever set with textContent: nothing from the API is parsed
// as HTML anywhere in the console.

export const $ = (id) => document.getElementById(id);

/** An element: h("td", {className: "num"}, "12", child). Strings become text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") el.className = value;
    else if (name === "text") el.textContent = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" || typeof child === "number"
      ? document.createTextNode(String(child)) : child);
  }
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

export function say(text, isError) {
  const status = $("status");
  status.textContent = text || "";
  status.className = isError ? "status error" : "status";
}

export function size(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(v < 10 ? 2 : 1) : String(v)) + " " + units[i];
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function badge(status) {
  return h("span", { className: "badge " + status, text: status });
}

/** Ask before something that cannot be undone; resolves true on "Delete". */
export function confirmDialog(title, text, action) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action || "Delete";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

/** Name/value rows (a small query builder): returns {rows, add, values}. */
export function metaRows(container, addButton, idPrefix, onChange) {
  let next = 0;
  function add(name, value) {
    const n = next++;
    const nameId = `${idPrefix}-name-${n}`;
    const valueId = `${idPrefix}-value-${n}`;
    const row = h("div", { className: "meta-row" },
      h("div", { className: "field" }, h("label", { for: nameId, text: "Name" }),
        h("input", { id: nameId, className: "meta-name", spellcheck: "false", value: name || "" })),
      h("div", { className: "field" }, h("label", { for: valueId, text: "Value" }),
        h("input", { id: valueId, className: "meta-value", value: value || "" })),
      h("button", {
        type: "button", className: "ghost", text: "Remove",
        "aria-label": "Remove this metadata row",
        onclick: () => { row.remove(); if (onChange) onChange(); },
      }));
    container.append(row);
    return row;
  }
  addButton.addEventListener("click", () => add().querySelector("input").focus());
  return {
    add,
    clear: () => clear(container),
    values() {
      const out = [];
      for (const row of container.querySelectorAll(".meta-row")) {
        const name = row.querySelector(".meta-name").value.trim();
        const value = row.querySelector(".meta-value").value;
        if (name) out.push([name, value]);
      }
      return out;
    },
  };
}
