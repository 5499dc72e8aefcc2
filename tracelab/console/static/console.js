// The tracelab console's core: the JSON API client, the router (the URL's
// fragment names the view: #/search?..., #/trace/<id>?backend=..., #/lab), the
// banner that says what is down and how to start it, and small formatters.
// Views live in search.js, trace.js and lab.js and register with TL.views.
"use strict";

const TL = (window.TL = {
  views: {},
  status: null,
  $: (id) => document.getElementById(id),
});

// --- the API ------------------------------------------------------------------
class ApiFailure extends Error {
  constructor(status, error) {
    super((error && error.message) || `HTTP ${status}`);
    this.status = status;
    this.error = error || {};
  }
}

TL.api = async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    TL.banner("The console itself is not answering: is `tracelab console` (make up) running?");
    throw new ApiFailure(0, { message: String(err) });
  }
  const text = await response.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || { message: text.slice(0, 200) };
    if (response.status === 503) TL.banner(error.message);
    throw new ApiFailure(response.status, error);
  }
  return data;
};
TL.ApiFailure = ApiFailure;

// --- banner -------------------------------------------------------------------------
TL.banner = function banner(message) {
  const box = TL.$("banner");
  if (!message) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.textContent = message;
};

TL.loadStatus = async function loadStatus() {
  try {
    TL.status = await TL.api("GET", "/api/status");
  } catch {
    return null;
  }
  const down = TL.status.backends.filter((b) => !b.up);
  TL.banner(down.map((b) => b.message).join(" · "));
  return TL.status;
};

// --- small helpers --------------------------------------------------------------------
TL.el = function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
};

TL.ms = function formatMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms === 0) return "0 ms";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
};

TL.time = function formatTime(epochMs) {
  const moment = new Date(epochMs);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}.${pad(moment.getMilliseconds(), 3)}`;
};

TL.date = function formatDate(epochMs) {
  return `${new Date(epochMs).toLocaleDateString()} ${TL.time(epochMs)}`;
};

// Service colours: the lab's five services always get the same; any other
// service a colour picked from its name, so a colour never changes between views.
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#86bcb6", "#d37295"];
const FIXED = { frontend: 0, gateway: 1, auth: 2, user: 4, db: 3 };
const colours = new Map();
TL.colour = function colour(service) {
  if (!colours.has(service)) {
    let index = FIXED[service];
    if (index === undefined) {
      let hash = 0;
      for (const char of service) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
      index = 5 + (hash % (PALETTE.length - 5));
    }
    colours.set(service, PALETTE[index]);
  }
  return colours.get(service);
};
TL.assignColours = (services) => services.forEach((s) => TL.colour(s));

// --- backend choice ---------------------------------------------------------------------
TL.backend = () => TL.$("backend").value;

// --- router -------------------------------------------------------------------------------
TL.parseRoute = function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/search";
  const [path, query = ""] = hash.split("?");
  const parts = path.split("/").filter(Boolean);
  return { view: parts[0] || "search", arg: parts[1] ? decodeURIComponent(parts[1]) : null, params: new URLSearchParams(query) };
};

TL.go = function go(view, arg, params) {
  const query = params && [...params].length ? `?${params}` : "";
  const target = `#/${view}${arg ? `/${encodeURIComponent(arg)}` : ""}${query}`;
  if (location.hash === target) TL.route();
  else location.hash = target;
};

TL.openTrace = function openTrace(traceId, extra) {
  const params = new URLSearchParams(extra || {});
  params.set("backend", TL.backend());
  TL.go("trace", traceId.trim().toLowerCase(), params);
};

TL.route = async function route() {
  const { view, arg, params } = TL.parseRoute();
  const backend = params.get("backend");
  if (backend && [...TL.$("backend").options].some((o) => o.value === backend)) TL.$("backend").value = backend;
  const name = TL.views[view] ? view : "search";
  for (const section of document.querySelectorAll("main > .view")) section.hidden = section.id !== `view-${name}`;
  for (const link of document.querySelectorAll("header nav a")) link.classList.toggle("current", link.dataset.view === name);
  await TL.views[name].show(arg, params);
};

document.addEventListener("DOMContentLoaded", async () => {
  TL.$("open-trace").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = TL.$("open-trace-id").value.trim();
    if (value) TL.openTrace(value); // the trace view says so when it is not a trace id
  });
  TL.$("backend").addEventListener("change", () => {
    const { view, arg, params } = TL.parseRoute();
    params.set("backend", TL.backend());
    TL.go(view, arg, params);
  });
  window.addEventListener("hashchange", () => TL.route());
  await TL.loadStatus();
  for (const view of Object.values(TL.views)) if (view.init) view.init();
  await TL.route();
  // Backends come and go (make up, make down): keep the banner truthful.
  setInterval(() => TL.loadStatus(), 15000);
});
