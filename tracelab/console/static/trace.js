// The trace view: collapsible waterfall with service colours and the critical
// path marked, span detail (attributes, resource, events with exception stack,
// links, status, kind), statistics per service and operation, and the trace's
// log lines (of the whole trace or of the selected span). A trace still
// arriving says so and is fetched again until it stops changing.
"use strict";

(() => {
  const $ = TL.$;
  const POLL_MS = 1000;
  const WAIT_FOR_FIRST_SPAN = 30; // polls while the backend has none of it yet
  const STABLE_WHEN_INCOMPLETE = 8; // polls unchanged before an incomplete trace is left as is
  let ticket = 0;
  let data = null;
  let ends = [];
  let rows = [];
  const collapsed = new Set();
  let selected = null;
  let logLines = [];
  let logsAvailable = true;

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setState(state, message) {
    $("view-trace").dataset.state = state;
    $("trace-arrival").textContent = message || "";
    $("trace-arrival").className = `arrival ${state}`;
  }

  function kv(table, key, value) {
    const row = TL.el("tr");
    row.append(TL.el("th", "", key));
    const cell = TL.el("td");
    if (value instanceof Node) cell.append(value);
    else cell.textContent = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
    row.append(cell);
    table.append(row);
  }

  function attributeTable(attributes, className) {
    const table = TL.el("table", `kv ${className || ""}`);
    const keys = Object.keys(attributes).sort();
    if (!keys.length) kv(table, "–", "none");
    for (const key of keys) kv(table, key, attributes[key]);
    return table;
  }

  // --- summary -------------------------------------------------------------------------
  function drawSummary() {
    const box = $("trace-summary");
    box.replaceChildren();
    const root = data.root ? `${data.root.service} ${data.root.name}` : "no root span";
    box.append(TL.el("strong", "", root), ` · ${TL.date(data.start_ms)} · ${TL.ms(data.duration_us / 1000)} · ${data.span_count} spans · `);
    for (const service of data.services) {
      const chip = TL.el("span", "svc", service);
      chip.style.setProperty("--svc", TL.colour(service));
      box.append(chip, " ");
    }
    box.append(TL.el("span", data.error_count ? "errors" : "hint", `${data.error_count} error span(s)`));
    if (data.roots > 1) box.append(TL.el("span", "errors", ` · ${data.roots} roots: the trace is broken in pieces`));
    const params = new URLSearchParams({ backend: data.backend });
    $("download-otlp").href = `/api/trace/${data.trace_id}/otlp?${params}`;
    $("compare-link").href = `#/compare?a=${data.trace_id}&backend=${encodeURIComponent(data.backend)}`;
    for (const [name, url] of Object.entries(data.links || {})) {
      const link = $(`${name}-link`);
      if (!link) continue;
      link.hidden = !url;
      if (url) link.href = url;
    }
    $("critical-rule").textContent = `Critical path: ${data.critical_path_rule}.`;
    const legend = $("legend");
    legend.replaceChildren();
    for (const service of data.services) {
      const chip = TL.el("span", "svc", service);
      chip.style.setProperty("--svc", TL.colour(service));
      legend.append(chip);
    }
  }

  // --- waterfall -----------------------------------------------------------------------
  function subtreeEnds(spans) {
    const result = new Array(spans.length).fill(spans.length);
    const stack = [];
    spans.forEach((span, i) => {
      while (stack.length && spans[stack[stack.length - 1]].depth >= span.depth) result[stack.pop()] = i;
      stack.push(i);
    });
    return result;
  }

  function drawRuler(total) {
    const ruler = $("ruler");
    ruler.replaceChildren();
    for (const share of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = TL.el("span", "tick", TL.ms((total * share) / 1000));
      tick.style.left = `${share * 100}%`;
      ruler.append(tick);
    }
  }

  function drawWaterfall() {
    const started = performance.now();
    const box = $("waterfall");
    const total = Math.max(data.duration_us, 1);
    const critical = new Map();
    for (const seg of data.critical_path) {
      if (!critical.has(seg.span_id)) critical.set(seg.span_id, []);
      critical.get(seg.span_id).push(seg);
    }
    ends = subtreeEnds(data.spans);
    const fragment = document.createDocumentFragment();
    rows = data.spans.map((span, index) => {
      const row = TL.el("div", `wf-row${span.status === "error" ? " error" : ""}${critical.has(span.span_id) ? " on-path" : ""}`);
      row.dataset.index = String(index);
      row.dataset.spanId = span.span_id;
      row.dataset.service = span.service;
      row.setAttribute("role", "treeitem");
      row.setAttribute("aria-level", String(span.depth + 1));
      row.style.setProperty("--svc", TL.colour(span.service));

      const label = TL.el("div", "wf-label");
      label.style.paddingLeft = `${span.depth * 14 + 4}px`;
      const toggle = TL.el("button", "wf-toggle", span.children ? "▾" : "");
      toggle.type = "button";
      toggle.tabIndex = span.children ? 0 : -1;
      toggle.setAttribute("aria-label", span.children ? "collapse or expand" : "");
      if (!span.children) toggle.disabled = true;
      label.append(toggle, TL.el("span", "svc", span.service), TL.el("span", "wf-name", span.name));
      label.append(TL.el("span", "kind", span.kind));
      if (span.orphan) label.append(TL.el("span", "errors", " parent missing"));
      label.title = `${span.service} ${span.name}`;

      const track = TL.el("div", "wf-track");
      const bar = TL.el("div", "wf-bar");
      bar.style.left = `${(100 * span.start_us) / total}%`;
      bar.style.width = `${Math.max((100 * span.duration_us) / total, 0.2)}%`;
      track.append(bar);
      for (const seg of critical.get(span.span_id) || []) {
        const mark = TL.el("div", "wf-crit");
        mark.style.left = `${(100 * seg.start_us) / total}%`;
        mark.style.width = `${Math.max((100 * (seg.end_us - seg.start_us)) / total, 0.1)}%`;
        track.append(mark);
      }
      row.append(label, track, TL.el("div", "wf-dur", TL.ms(span.duration_us / 1000)));
      fragment.append(row);
      return row;
    });
    box.replaceChildren(fragment);
    applyCollapse();
    box.dataset.spans = String(rows.length);
    box.dataset.renderMs = (performance.now() - started).toFixed(1);
    // Milliseconds from the page's navigation to this drawing (the benchmark reads it).
    box.dataset.drawnAt = performance.now().toFixed(1);
    drawRuler(total);
    if (selected && !data.spans.some((s) => s.span_id === selected)) selected = null;
    if (selected) select(selected);
  }

  function applyCollapse() {
    let hiddenUntil = -1;
    rows.forEach((row, i) => {
      const span = data.spans[i];
      row.hidden = i < hiddenUntil;
      const closed = collapsed.has(span.span_id);
      row.setAttribute("aria-expanded", span.children ? String(!closed) : "");
      if (span.children) row.firstChild.firstChild.textContent = closed ? "▸" : "▾";
      if (!row.hidden && closed) hiddenUntil = ends[i];
    });
  }

  // --- span detail -----------------------------------------------------------------------
  function select(spanId) {
    selected = spanId;
    for (const row of rows) row.classList.toggle("selected", row.dataset.spanId === spanId);
    const span = data.spans.find((s) => s.span_id === spanId);
    const panel = $("span-detail");
    if (!span) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    panel.replaceChildren();
    const head = TL.el("div", "detail-head");
    const title = TL.el("h3");
    const chip = TL.el("span", "svc", span.service);
    chip.style.setProperty("--svc", TL.colour(span.service));
    title.append(chip, ` ${span.name}`);
    const close = TL.el("button", "secondary close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "close the span detail");
    close.addEventListener("click", () => {
      selected = null;
      panel.hidden = true;
      for (const row of rows) row.classList.remove("selected");
      drawLogs();
    });
    head.append(title, close);
    panel.append(head);

    const facts = TL.el("table", "kv facts");
    kv(facts, "span id", span.span_id);
    kv(facts, "parent", span.parent_id || "none (root)");
    kv(facts, "kind", span.kind);
    const status = TL.el("span", span.status === "error" ? "errors" : "", span.status);
    kv(facts, "status", status);
    if (span.status_message) kv(facts, "status message", span.status_message);
    kv(facts, "start", `+${TL.ms(span.start_us / 1000)}`);
    kv(facts, "duration", TL.ms(span.duration_us / 1000));
    kv(facts, "self time", TL.ms(span.self_us / 1000));
    kv(facts, "on critical path", TL.ms(span.critical_us / 1000));
    if (span.scope) kv(facts, "instrumentation scope", span.scope);
    panel.append(facts);

    panel.append(TL.el("h4", "", "Attributes"), attributeTable(span.attributes, "attributes"));
    panel.append(TL.el("h4", "", "Resource"), attributeTable(data.resources[span.resource] || {}, "resource"));

    panel.append(TL.el("h4", "", `Events (${span.events.length})`));
    for (const event of span.events) {
      const box = TL.el("div", `event${event.name === "exception" ? " exception" : ""}`);
      box.append(TL.el("div", "event-head", `${event.name} at +${TL.ms(event.offset_us / 1000)}`));
      const { "exception.stacktrace": stack, ...rest } = event.attributes;
      box.append(attributeTable(rest));
      if (stack) box.append(TL.el("pre", "stack", stack));
      panel.append(box);
    }

    panel.append(TL.el("h4", "", `Links (${span.links.length})`));
    for (const link of span.links) {
      const box = TL.el("div", "link");
      const open = TL.el("a", "", `trace ${link.trace_id}`);
      open.href = `#/trace/${link.trace_id}?backend=${encodeURIComponent(data.backend)}`;
      box.append(open, ` span ${link.span_id}`);
      if (Object.keys(link.attributes).length) box.append(attributeTable(link.attributes));
      panel.append(box);
    }

    panel.append(TL.el("h4", "", "Log lines of this span"));
    const own = logLines.filter((line) => line.span_id === span.span_id);
    panel.append(TL.el("pre", "log-lines span-logs", own.length ? own.map(formatLine).join("\n") : logsMessage("no log line carries this span id")));
    drawLogs();
  }

  // --- statistics and logs -------------------------------------------------------------------
  function drawStats() {
    const body = document.querySelector("#stats-table tbody");
    body.replaceChildren();
    for (const row of data.stats) {
      const line = TL.el("tr");
      const service = TL.el("td");
      const chip = TL.el("span", "svc", row.service);
      chip.style.setProperty("--svc", TL.colour(row.service));
      service.append(chip);
      line.append(service, TL.el("td", "", row.name), TL.el("td", "num", row.count));
      for (const key of ["total_ms", "self_ms", "critical_ms"]) line.append(TL.el("td", "num", TL.ms(row[key])));
      body.append(line);
    }
  }

  function formatLine(line) {
    return `${line.time || ""} ${line.service || line.source || ""} ${line.level || ""} ${line.message || ""}`;
  }

  function logsMessage(empty) {
    return logsAvailable ? empty : "no log files in this mode (the local stack's are read; see docs/console.md)";
  }

  function drawLogs() {
    const span = selected && data.spans.find((s) => s.span_id === selected);
    const lines = span ? logLines.filter((l) => l.span_id === selected) : logLines;
    $("logs-scope").textContent = span ? `of span ${span.service} ${span.name} (close the span to see all)` : `of the whole trace (${logLines.length})`;
    const empty = span ? "no log line carries this span id" : "no log line carries this trace id";
    $("log-lines").textContent = lines.length ? lines.map(formatLine).join("\n") : logsMessage(empty);
  }

  async function loadLogs(traceId) {
    try {
      const answer = await TL.api("GET", `/api/trace/${traceId}/logs`);
      logLines = answer.lines;
      logsAvailable = answer.available;
    } catch {
      logLines = [];
    }
    drawLogs();
    if (selected) select(selected);
    $("log-lines").dataset.state = "loaded";
  }

  function render() {
    TL.assignColours(data.services);
    drawSummary();
    drawWaterfall();
    drawStats();
  }

  // For the analysis panels (analysis.js): mark rows, scroll to one, open its detail.
  TL.trace = {
    current: () => data,
    highlight(spanIds, className) {
      const wanted = new Set(spanIds);
      for (const row of rows) row.classList.toggle(className, wanted.has(row.dataset.spanId));
      const first = rows.find((row) => wanted.has(row.dataset.spanId));
      if (first) {
        // Open every collapsed ancestor, so the highlighted rows can be seen.
        for (const span of data.spans) if (collapsed.has(span.span_id)) collapsed.delete(span.span_id);
        applyCollapse();
        first.scrollIntoView({ block: "nearest" });
      }
    },
    mark(marks) {
      for (const row of rows) {
        const mark = marks[row.dataset.spanId];
        row.classList.remove("diff-matched", "diff-differs", "diff-extra");
        row.removeAttribute("data-diff");
        if (!mark) continue;
        row.classList.add(`diff-${mark.status}`);
        row.dataset.diff = mark.status;
        if (mark.reasons && mark.reasons.length) row.title = mark.reasons.join("\n");
      }
    },
    select: (spanId) => select(spanId),
  };

  function arrivalMessage(arrival) {
    const parts = [];
    if (arrival.waiting_for_parent) parts.push(`${arrival.waiting_for_parent} span(s) wait for a parent`);
    if (arrival.unanswered_calls) parts.push(`${arrival.unanswered_calls} call(s) have no server span yet`);
    return parts.join(", ");
  }

  // --- fetching, with arrival -------------------------------------------------------------------
  async function show(traceId, params) {
    const mine = ++ticket;
    const backend = params.get("backend") || TL.backend();
    $("trace-id").textContent = traceId || "";
    $("waterfall").replaceChildren();
    delete $("waterfall").dataset.drawnAt;
    $("span-detail").hidden = true;
    $("log-lines").textContent = "";
    $("log-lines").dataset.state = "";
    document.querySelector("#stats-table tbody").replaceChildren();
    $("trace-summary").textContent = "";
    if (TL.beforeTrace) TL.beforeTrace();
    data = null;
    logLines = [];
    collapsed.clear();
    selected = params.get("span");
    setState("waiting", `fetching from ${backend}…`);
    let misses = 0;
    let unchanged = 0;
    let lastCount = -1;
    while (mine === ticket) {
      let answer;
      try {
        answer = await TL.api("GET", `/api/trace/${encodeURIComponent(traceId)}?backend=${encodeURIComponent(backend)}`);
      } catch (failure) {
        if (mine !== ticket) return;
        if (failure.status === 404 && misses < WAIT_FOR_FIRST_SPAN) {
          misses += 1;
          setState("waiting", `waiting for the trace to reach ${backend}… (${misses}s; spans are exported in batches)`);
          await sleep(POLL_MS);
          continue;
        }
        setState("failed", failure.message);
        return;
      }
      if (mine !== ticket) return;
      unchanged = answer.span_count === lastCount ? unchanged + 1 : 0;
      if (answer.span_count !== lastCount) {
        data = answer;
        render();
      }
      lastCount = answer.span_count;
      const missing = arrivalMessage(answer.arrival);
      if (answer.arrival.complete && unchanged >= 1) break;
      if (!answer.arrival.complete && (unchanged >= STABLE_WHEN_INCOMPLETE || answer.age_s > 60)) {
        setState("incomplete", `This trace looks incomplete: ${missing}. It stopped changing, so those spans were lost or belong to another trace (lost context).`);
        await loadLogs(traceId);
        if (TL.afterTrace) await TL.afterTrace(data, params);
        return;
      }
      setState("arriving", answer.arrival.complete ? "checking that no more spans arrive…" : `still arriving: ${missing}; refreshing…`);
      await sleep(POLL_MS);
    }
    if (mine !== ticket) return;
    setState("complete", `${data.span_count} spans, complete.`);
    await loadLogs(traceId);
    if (TL.afterTrace) await TL.afterTrace(data, params);
  }

  TL.views.trace = {
    init() {
      $("waterfall").addEventListener("click", (event) => {
        const row = event.target.closest(".wf-row");
        if (!row) return;
        const span = data.spans[Number(row.dataset.index)];
        if (event.target.closest(".wf-toggle")) {
          if (collapsed.has(span.span_id)) collapsed.delete(span.span_id);
          else collapsed.add(span.span_id);
          applyCollapse();
          return;
        }
        select(span.span_id);
      });
      $("expand-all").addEventListener("click", () => {
        collapsed.clear();
        applyCollapse();
      });
      $("collapse-all").addEventListener("click", () => {
        if (!data) return;
        for (const span of data.spans) if (span.children && span.depth > 0) collapsed.add(span.span_id);
        applyCollapse();
      });
      $("show-critical").addEventListener("change", () => {
        $("waterfall").classList.toggle("hide-critical", !$("show-critical").checked);
      });
    },
    show,
  };
})();
