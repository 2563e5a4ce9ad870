// The console's entry: routes (#/ buckets, #/b/<bucket>?prefix=&open=, #/dashboard), the
// access key (this tab's sessionStorage only), the theme, and the wiring of each view.

import { $, say } from "./dom.js";
import { session, ApiError } from "./api.js";
import { initBuckets, loadBuckets } from "./buckets.js";
import { initBrowser, openFolder, refresh, current } from "./browser.js";
import { initDetail } from "./preview.js";
import { initUpload } from "./upload.js";
import { initDashboard, loadDashboard } from "./dashboard.js";

const THEME_ITEM = "sangraha.theme";
const THEMES = ["system", "light", "dark"];
const VIEWS = ["view-buckets", "view-browser", "view-dashboard"];

function applyTheme(theme) {
  if (theme === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.dataset.theme = theme;
  $("theme").textContent = "Theme: " + theme;
  $("theme").setAttribute("aria-label", `Theme: ${theme}. Change theme`);
}

function showView(id) {
  $("sign-in").hidden = true;
  for (const view of VIEWS) $(view).hidden = view !== id;
  $("nav-buckets").removeAttribute("aria-current");
  $("nav-dashboard").removeAttribute("aria-current");
  $(id === "view-dashboard" ? "nav-dashboard" : "nav-buckets").setAttribute("aria-current", "page");
}

function signedIn() {
  const has = Boolean(session.key);
  $("signed-in").hidden = !has;
  $("sign-out").hidden = !has;
}

function askForKey(error) {
  for (const view of VIEWS) $(view).hidden = true;
  $("sign-in").hidden = false;
  say(error ? error.message : "", Boolean(error));
  $("apikey").focus();
}

async function route() {
  const hash = window.location.hash || "#/";
  const [path, queryText] = hash.slice(1).split("?");
  const query = new URLSearchParams(queryText || "");
  try {
    if (path.startsWith("/b/")) {
      showView("view-browser");
      await openFolder(decodeURIComponent(path.slice(3)), query.get("prefix") || "", query.get("open"));
    } else if (path === "/dashboard") {
      showView("view-dashboard");
      await loadDashboard();
    } else {
      showView("view-buckets");
      await loadBuckets();
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) askForKey(error);
  }
}

function navigate(hash) {
  if (window.location.hash === hash) route(); else window.location.hash = hash;
}

function init() {
  applyTheme(localStorage.getItem(THEME_ITEM) || "system");
  $("theme").addEventListener("click", () => {
    const now = localStorage.getItem(THEME_ITEM) || "system";
    const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
    localStorage.setItem(THEME_ITEM, next);
    applyTheme(next);
  });
  $("sign-in-form").addEventListener("submit", (e) => {
    e.preventDefault();
    session.key = $("apikey").value.trim();
    $("apikey").value = "";
    signedIn();
    route();
  });
  $("sign-out").addEventListener("click", () => { session.key = ""; signedIn(); route(); });
  $("settings-open").addEventListener("click", () => {
    $("writer").value = session.writer;
    $("settings-key").value = session.key;
    $("settings").showModal();
  });
  $("settings").addEventListener("close", () => {
    if ($("settings").returnValue !== "save") return;
    session.writer = $("writer").value;
    session.key = $("settings-key").value.trim();
    signedIn();
    route();
  });
  initBuckets();
  initBrowser(navigate);
  initDetail(() => refresh());
  initUpload(current, () => refresh());
  initDashboard();
  signedIn();
  // The old links, /console?bucket=docs&prefix=reports/, open that listing.
  const legacy = new URLSearchParams(window.location.search);
  if (legacy.get("bucket") && !window.location.hash) {
    const prefix = legacy.get("prefix");
    window.location.replace("#/b/" + encodeURIComponent(legacy.get("bucket")) +
      (prefix ? "?prefix=" + encodeURIComponent(prefix) : ""));
  }
  window.addEventListener("hashchange", route);
  route();
}

init();
