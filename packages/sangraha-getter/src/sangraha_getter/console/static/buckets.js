// The bucket list: what each holds, its kind policy; create one with its policy, open one,
// delete an empty one (the API answers 409 while it holds objects).

import { $, h, clear, size, when, say, confirmDialog } from "./dom.js";
import { json, call, enc, writeUrl } from "./api.js";
import { hrefOf } from "./browser.js";

export let buckets = [];

export async function loadBuckets() {
  say("Loading buckets...");
  try {
    buckets = await json("/v1/buckets");
  } catch (error) {
    say(error.message, true);
    throw error;
  }
  const body = clear($("bucket-rows"));
  for (const b of buckets) {
    body.append(h("tr", {},
      h("td", {}, h("a", { href: hrefOf(b.name, ""), text: b.name, className: "mono" })),
      h("td", { text: b.kinds }),
      h("td", { className: "num", text: String(b.objects ?? "") }),
      h("td", { className: "num", text: size(b.bytes) }),
      h("td", { className: "wide-only", text: when(b.created_at) }),
      h("td", {}, h("button", { type: "button", className: "ghost", text: "Delete",
        "aria-label": `Delete bucket ${b.name}`, onclick: () => removeBucket(b.name) }))));
  }
  $("buckets-empty").hidden = buckets.length > 0;
  say("");
  return buckets;
}

async function removeBucket(name) {
  if (!await confirmDialog("Delete this bucket?", `Bucket ${name} will be deleted. Only an empty bucket can be.`)) return;
  let message = `Deleted bucket ${name}.`;
  let failed = false;
  try {
    await call(writeUrl(`/v1/buckets/${enc(name)}`), { method: "DELETE" });
  } catch (error) {
    failed = true;
    message = error.status === 409 ? `Bucket ${name} still holds objects: delete them first.` : `Delete failed: ${error.message}`;
  }
  await loadBuckets().catch(() => {});
  say(message, failed);
}

async function create(event) {
  event.preventDefault();
  const name = $("bucket-name").value.trim();
  const kinds = $("bucket-kinds").value;
  try {
    await call(writeUrl(`/v1/buckets/${enc(name)}`), {
      method: "PUT",
      headers: { "Content-Type": "application/json", "If-None-Match": "*" },
      body: JSON.stringify({ kinds }),
    });
    $("bucket-name").value = "";
    await loadBuckets();
    say(`Created bucket ${name} (${kinds}).`);
  } catch (error) {
    say(error.status === 409 ? `Bucket ${name} exists already.` : `Create failed: ${error.message}`, true);
  }
}

export function initBuckets() {
  $("bucket-create").addEventListener("submit", create);
  $("buckets-refresh").addEventListener("click", () => loadBuckets().catch(() => {}));
}
