// Search: the form (service, operation, attributes, errors, trace duration,
// time range, limit; on Tempo also the TraceQL it runs, editable), the results
// table and the duration-over-time scatter plot (Chart.js). A click on a row or
// a point opens the trace. The form's state lives in the URL: #/search?service=...
"use strict";

(() => {
  const $ = TL.$;
  const FIELDS = ["service", "operation", "attributes", "min_duration", "max_duration", "lookback", "limit"];
  let chart = null;
  let traceqlEdited = false;
  let lastServicesBackend = null;

  function isTempo() {
    return TL.backend() === "tempo";
  }

  function localInput(epochMs) {
    const d = new Date(epochMs - new Date(epochMs).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 19);
  }

  // The form as URL parameters (the API takes the same names).
  function formParams() {
    const params = new URLSearchParams();
    params.set("backend", TL.backend());
    for (const name of FIELDS) {
      const field = document.querySelector(`#search-form [name="${name}"]`);
      const value = field.value.trim();
      if (value && !(name === "lookback" && value === "custom")) params.set(name, value);
    }
    if ($("f-errors").checked) params.set("errors", "true");
    if ($("f-lookback").value === "custom") {
      for (const [id, name] of [["f-start", "start"], ["f-end", "end"]]) {
        if ($(id).value) params.set(name, String(new Date($(id).value).getTime()));
      }
    }
    if (isTempo() && traceqlEdited && $("f-traceql").value.trim()) params.set("q", $("f-traceql").value.trim());
    return params;
  }

  function fillForm(params) {
    for (const name of FIELDS) {
      const field = document.querySelector(`#search-form [name="${name}"]`);
      if (params.has(name)) {
        if (field.tagName === "SELECT" && ![...field.options].some((o) => o.value === params.get(name))) {
          field.append(new Option(params.get(name), params.get(name)));
        }
        field.value = params.get(name);
      }
    }
    $("f-errors").checked = params.get("errors") === "true";
    if (params.has("start")) {
      $("f-lookback").value = "custom";
      $("f-start").value = localInput(Number(params.get("start")));
      if (params.has("end")) $("f-end").value = localInput(Number(params.get("end")));
    }
    $("f-range").hidden = $("f-lookback").value !== "custom";
    traceqlEdited = params.has("q");
    if (traceqlEdited) $("f-traceql").value = params.get("q");
  }

  async function loadServices() {
    const backend = TL.backend();
    if (lastServicesBackend === backend) return;
    const select = $("f-service");
    const keep = select.value;
    try {
      const data = await TL.api("GET", `/api/services?backend=${encodeURIComponent(backend)}`);
      select.replaceChildren(new Option("any", ""));
      for (const name of data.services) select.append(new Option(name, name));
      select.value = data.services.includes(keep) ? keep : "";
      lastServicesBackend = backend;
    } catch (failure) {
      $("search-status").textContent = `services unavailable: ${failure.message}`;
    }
  }

  async function loadOperations() {
    const select = $("f-operation");
    const keep = select.value;
    select.replaceChildren(new Option("any", ""));
    const service = $("f-service").value;
    if (!service) return;
    try {
      const data = await TL.api(
        "GET",
        `/api/operations?backend=${encodeURIComponent(TL.backend())}&service=${encodeURIComponent(service)}`,
      );
      for (const name of data.operations) select.append(new Option(name, name));
      if (data.operations.includes(keep)) select.value = keep;
    } catch (failure) {
      $("search-status").textContent = `operations unavailable: ${failure.message}`;
    }
  }

  // On Tempo the form is shown as the TraceQL it runs (computed by the server, the one definition).
  async function refreshTraceql() {
    $("traceql-box").hidden = !isTempo();
    if (!isTempo() || traceqlEdited) return;
    const params = formParams();
    params.delete("q");
    try {
      const data = await TL.api("GET", `/api/traceql?${params}`);
      $("f-traceql").value = data.traceql;
    } catch (failure) {
      $("f-traceql").value = "";
      $("search-status").textContent = failure.message;
    }
  }

  function drawTable(traces) {
    const body = document.querySelector("#results-table tbody");
    body.replaceChildren();
    for (const t of traces) {
      const row = TL.el("tr", t.error_count ? "has-errors" : "");
      row.dataset.traceId = t.trace_id;
      row.tabIndex = 0;
      const cells = [
        t.root_service,
        t.root_name,
        TL.date(t.start_ms),
        TL.ms(t.duration_ms),
        t.span_count ?? "–",
        t.services ? t.services.join(", ") : "–",
        t.error_count ?? "–",
      ];
      cells.forEach((value, i) => row.append(TL.el("td", i >= 3 && i !== 5 ? "num" : "", value)));
      row.firstChild.prepend(TL.el("span", "chip", ""));
      row.firstChild.firstChild.style.background = TL.colour(t.root_service);
      const open = () => TL.openTrace(t.trace_id);
      row.addEventListener("click", open);
      row.addEventListener("keydown", (event) => event.key === "Enter" && open());
      body.append(row);
    }
  }

  // The x axis spans the time range searched (epoch ms), so the points sit where they happened.
  function drawScatter(traces, range) {
    const canvas = $("scatter");
    const point = (t) => ({ x: t.start_ms, y: t.duration_ms, trace: t });
    const datasets = [
      { label: "traces", data: traces.filter((t) => !t.error_count).map(point), backgroundColor: "#4e79a7cc", pointRadius: 5, pointHoverRadius: 7 },
      { label: "with errors", data: traces.filter((t) => t.error_count).map(point), backgroundColor: "#e15759dd", pointRadius: 5, pointHoverRadius: 7, pointStyle: "rectRot" },
    ];
    if (chart) {
      chart.data.datasets = datasets;
      chart.options.scales.x.min = range.min;
      chart.options.scales.x.max = range.max;
      chart.update();
      return;
    }
    chart = new window.Chart(canvas, {
      type: "scatter",
      data: { datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: {
            type: "linear",
            min: range.min,
            max: range.max,
            title: { display: true, text: "start" },
            ticks: { callback: (v) => TL.time(v).slice(0, 8), maxRotation: 0 },
          },
          y: { beginAtZero: true, title: { display: true, text: "trace duration (ms)" } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (item) => {
                const t = item.raw.trace;
                return `${t.root_service} ${t.root_name}: ${TL.ms(t.duration_ms)} at ${TL.time(t.start_ms)}`;
              },
            },
          },
        },
        onClick: (_event, elements) => {
          if (!elements.length) return;
          const { datasetIndex, index } = elements[0];
          TL.openTrace(chart.data.datasets[datasetIndex].data[index].trace.trace_id);
        },
        onHover: (event, elements) => {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
      },
    });
  }

  async function run(params) {
    const started = performance.now();
    $("search-status").textContent = "searching…";
    $("search-notes").textContent = "";
    $("view-search").dataset.state = "searching";
    try {
      const data = await TL.api("GET", `/api/search?${params}`);
      const took = performance.now() - started;
      const scanned = data.backend === "jaeger" ? ` · scanned ${data.scanned} candidate trace(s)` : "";
      $("search-status").textContent = `${data.traces.length} trace(s)${scanned} · ${took.toFixed(0)} ms`;
      $("search-notes").textContent = data.notes.join(" ");
      if (isTempo() && !traceqlEdited) $("f-traceql").value = data.query;
      drawTable(data.traces);
      document.querySelector(".scatter-box").hidden = false;
      if (window.Chart) drawScatter(data.traces, { min: data.form.start * 1000, max: data.form.end * 1000 });
      $("view-search").dataset.state = "done";
    } catch (failure) {
      $("search-status").textContent = failure.message;
      drawTable([]);
      document.querySelector(".scatter-box").hidden = true; // nothing to plot: say why above
      $("view-search").dataset.state = "failed";
    }
  }

  TL.views.search = {
    init() {
      $("search-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const params = formParams();
        TL.go("search", null, params);
      });
      $("f-service").addEventListener("change", async () => {
        await loadOperations();
        refreshTraceql();
      });
      $("f-lookback").addEventListener("change", () => {
        $("f-range").hidden = $("f-lookback").value !== "custom";
        if ($("f-lookback").value === "custom" && !$("f-start").value) {
          $("f-start").value = localInput(Date.now() - 3600e3);
          $("f-end").value = localInput(Date.now());
        }
      });
      for (const field of document.querySelectorAll("#search-form input, #search-form select")) {
        field.addEventListener("change", () => refreshTraceql());
      }
      $("f-traceql").addEventListener("input", () => {
        traceqlEdited = true;
      });
      $("traceql-reset").addEventListener("click", () => {
        traceqlEdited = false;
        refreshTraceql();
      });
    },
    async show(_arg, params) {
      fillForm(params);
      await loadServices();
      if (params.get("service")) {
        await loadOperations();
        if (params.get("operation")) $("f-operation").value = params.get("operation");
      }
      await refreshTraceql();
      // A search runs when the URL holds one (the form was submitted, or a link was followed).
      if ([...params.keys()].some((k) => k !== "backend")) await run(params);
      else if (!$("results-table").querySelector("tbody tr")) await run(formParams());
    },
  };
})();
