// The demo page: calls /api/* and shows each answer with its trace id and a link to its trace.
// The token lives in sessionStorage only: it is never sent anywhere but our own API.
"use strict";

(() => {
  const root = document.getElementById("app");
  const marker = root.dataset.traceMarker;
  const consoleLink = root.dataset.consoleLink;
  const TRACERESPONSE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
  const SESSION_KEY = "tracelab.session";

  const $ = (id) => document.getElementById(id);

  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
      return session && typeof session.token === "string" ? session : null;
    } catch {
      return null;
    }
  }

  function saveSession(session) {
    if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    else sessionStorage.removeItem(SESSION_KEY);
    render();
  }

  function render() {
    const session = loadSession();
    $("login-panel").hidden = Boolean(session);
    $("session-panel").hidden = !session;
    if (session) {
      $("session-user").textContent = String(session.userId);
      if (!$("profile-id").value) $("profile-id").value = String(session.userId);
    }
  }

  function traceIdOf(response) {
    const match = TRACERESPONSE.exec(response.headers.get("traceresponse") || "");
    return match ? match[1] : null;
  }

  // Never put a token on screen, even our own.
  function redact(payload) {
    if (payload && typeof payload === "object" && typeof payload.token === "string") {
      return { ...payload, token: payload.token.slice(0, 8) + "… (hidden)" };
    }
    return payload;
  }

  function statusClass(status) {
    if (typeof status !== "number") return "server-error";
    if (status < 400) return "ok";
    return status < 500 ? "client-error" : "server-error";
  }

  function showResult({ method, path, status, elapsedMs, traceId, payload }) {
    const item = $("result-template").content.firstElementChild.cloneNode(true);
    const statusEl = item.querySelector(".status");
    statusEl.textContent = String(status);
    statusEl.classList.add(statusClass(status));
    item.querySelector(".request").textContent = `${method} ${path}`;
    item.querySelector(".elapsed").textContent = `${Math.round(elapsedMs)} ms`;
    if (traceId) {
      item.querySelector(".trace-id").textContent = traceId;
      item.querySelector(".console-link").href = consoleLink.replace(marker, traceId);
    } else {
      item.querySelector(".trace").textContent = "no traceresponse header";
    }
    const body = typeof payload === "string" ? payload : JSON.stringify(redact(payload), null, 2);
    item.querySelector(".body").textContent = body;
    $("empty-results").hidden = true;
    $("results").prepend(item);
  }

  async function call(method, path, { body, token } = {}) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const started = performance.now();
    let response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      const elapsedMs = performance.now() - started;
      showResult({ method, path, status: "network error", elapsedMs, payload: String(error) });
      return null;
    }
    const text = await response.text();
    let payload = text;
    try {
      payload = JSON.parse(text);
    } catch {
      // Not JSON: shown as text.
    }
    const elapsedMs = performance.now() - started;
    showResult({ method, path, status: response.status, elapsedMs, traceId: traceIdOf(response), payload });
    return response.ok ? payload : null;
  }

  async function busy(button, work) {
    button.disabled = true;
    try {
      await work();
    } finally {
      button.disabled = false;
    }
  }

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button");
    busy(button, async () => {
      const credentials = { email: $("email").value, password: $("password").value };
      const answer = await call("POST", "/api/login", { body: credentials });
      if (answer && typeof answer.token === "string") {
        $("profile-id").value = "";
        saveSession({ token: answer.token, userId: answer.user_id });
      }
    });
  });

  // The session can vanish (another tab logged out): fall back to the login form.
  function withSession(work) {
    const session = loadSession();
    if (session) return work(session);
    render();
    return Promise.resolve(null);
  }

  $("profile-button").addEventListener("click", (event) => {
    busy(event.target, () =>
      withSession((session) => {
        const id = encodeURIComponent($("profile-id").value.trim() || String(session.userId));
        return call("GET", `/api/users/${id}`, { token: session.token });
      }),
    );
  });

  $("dashboard-button").addEventListener("click", (event) => {
    busy(event.target, () =>
      withSession((session) => call("GET", "/api/dashboard", { token: session.token })),
    );
  });

  $("bad-token-button").addEventListener("click", (event) => {
    busy(event.target, () => call("GET", "/api/dashboard", { token: "not-a-real-token" }));
  });

  $("logout-button").addEventListener("click", () => saveSession(null));

  render();
})();
