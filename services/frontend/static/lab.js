// The lab console: fire journeys through the public API, switch scenarios
// through /lab/api (the server holds the admin token), and draw the trace
// fetched back from Jaeger as a waterfall, with the trace's log lines.
"use strict";

(() => {
  const root = document.getElementById("lab");
  const marker = root.dataset.traceMarker;
  const TRACERESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
  const $ = (id) => document.getElementById(id);
  let token = null;
  let current = 0; // the trace shown; a newer journey cancels polling of an older one

  async function json(method, path, options = {}) {
    const response = await fetch(path, { method, ...options });
    const text = await response.text();
    let body = null;
    try { body = JSON.parse(text); } catch { body = text; }
    return { response, body };
  }

  async function login() {
    const { response, body } = await json("POST", "/api/login", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: root.dataset.demoEmail, password: root.dataset.demoPassword }),
    });
    if (response.ok) token = body.token;
    return response;
  }

  async function ensureToken() {
    if (!token) await login();
    return { Authorization: `Bearer ${token}` };
  }

  const journeys = {
    login: () => login(),
    profile: async () => (await json("GET", "/api/users/1", { headers: await ensureToken() })).response,
    dashboard: async () => (await json("GET", "/api/dashboard", { headers: await ensureToken() })).response,
    bad_token: async () =>
      (await json("GET", "/api/users/1", { headers: { Authorization: "Bearer not-a-real-token" } })).response,
    not_found: async () => (await json("GET", "/api/users/999999", { headers: await ensureToken() })).response,
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawWaterfall(spans) {
    const box = $("waterfall");
    box.replaceChildren();
    const total = Math.max(...spans.map((s) => s.start_ms + s.duration_ms), 0.001);
    for (const span of spans) {
      const row = el("div", "wf-row");
      row.dataset.service = span.service;
      const label = el("div", "wf-label");
      label.style.paddingLeft = `${span.depth * 0.8}rem`;
      label.append(el("span", `svc svc-${span.service}`, span.service), ` ${span.name} `);
      label.append(el("span", "hint", span.kind));
      const track = el("div", "wf-track");
      const bar = el("div", `wf-bar ${span.status === "error" ? "error" : ""}`);
      bar.style.left = `${(100 * span.start_ms) / total}%`;
      bar.style.width = `${(100 * span.duration_ms) / total}%`;
      bar.title = `${span.service} ${span.name}: ${span.duration_ms} ms`;
      track.append(bar);
      row.append(label, track, el("div", "duration", `${span.duration_ms.toFixed(1)} ms`));
      box.append(row);
    }
  }

  async function showLogs(traceId) {
    const { body } = await json("GET", `/lab/api/logs/${traceId}`);
    const lines = (body && body.lines) || [];
    $("log-lines").textContent = lines.length
      ? lines.map((l) => `${l.time} ${l.service} ${l.level} ${l.message}`).join("\n")
      : "no log lines carry this trace id (see docs/workshop: log correlation)";
  }

  // Spans arrive in batches, one per service: poll until the trace looks whole and stops growing.
  async function showTrace(traceId, status, ticket) {
    $("trace-panel").hidden = false;
    $("trace-id").textContent = traceId;
    $("trace-status").textContent = String(status);
    $("jaeger-link").href = root.dataset.jaegerLink.replace(marker, traceId);
    $("grafana-link").href = root.dataset.grafanaLink.replace(marker, traceId);
    $("waterfall").replaceChildren();
    $("waterfall").dataset.state = "waiting";
    let last = -1;
    let stable = 0;
    for (let i = 0; i < 60 && ticket === current; i += 1) {
      $("trace-state").textContent = "waiting for the spans to reach Jaeger…";
      const { response, body } = await json("GET", `/lab/api/traces/${traceId}`);
      const spans = response.ok && body ? body.spans : [];
      if (spans.length) drawWaterfall(spans);
      stable = spans.length && spans.length === last ? stable + 1 : 0;
      last = spans.length;
      // Whole-looking and unchanged for two more polls; or unchanged for ~8 s.
      if ((body && body.complete && stable >= 2) || stable >= 12) break;
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    if (ticket !== current) return;
    $("trace-state").textContent = `${last} span(s)`;
    $("waterfall").dataset.state = "complete";
    await showLogs(traceId);
  }

  async function fire(name, button) {
    button.disabled = true;
    const ticket = ++current;
    try {
      const response = await journeys[name]();
      const match = TRACERESPONSE.exec(response.headers.get("traceresponse") || "");
      if (match) await showTrace(match[1], response.status, ticket);
    } finally {
      button.disabled = false;
    }
  }

  async function loadScenarios() {
    const { response, body } = await json("GET", "/lab/api/scenarios");
    const list = $("scenarios");
    list.replaceChildren();
    if (!response.ok) {
      list.append(el("li", "hint", `scenarios unavailable (${response.status})`));
      return;
    }
    for (const s of body.scenarios) {
      const item = el("li");
      item.dataset.scenario = s.name;
      const box = el("input");
      box.type = "checkbox";
      box.checked = s.active;
      box.addEventListener("change", async () => {
        box.disabled = true;
        await json(box.checked ? "PUT" : "DELETE", `/lab/api/scenarios/${s.name}`);
        await loadScenarios();
      });
      const name = el("span", `name ${s.active ? "on" : ""}`, s.name);
      item.append(box, name, el("span", "hint", `[${s.services.join(", ")}] ${s.summary}`));
      list.append(item);
    }
  }

  for (const button of document.querySelectorAll("#journeys button")) {
    button.addEventListener("click", () => fire(button.dataset.journey, button));
  }
  loadScenarios();
})();
