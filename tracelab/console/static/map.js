// The service map: services and their calls over a window, with rate, errors
// and p50/p99 from the collector's span metrics, raw and sampling-corrected
// (each sampled span stands for 1/p requests). Drawn with Cytoscape.js; the
// same figures are in the two tables below it. #/map?window=5m
"use strict";

(() => {
  const $ = TL.$;
  let graph = null;

  const rate = (value) => (value === null || value === undefined ? "–" : `${value.toFixed(value >= 10 ? 1 : 2)}/s`);
  const share = (value) => `${(value * 100).toFixed(value && value < 0.01 ? 2 : 1)}%`;
  const corrected = (item) =>
    item.sampling_probability >= 1 ? rate(item.corrected_rate_per_s) : `${rate(item.corrected_rate_per_s)} ± ${item.corrected_rate_stderr.toFixed(2)}`;

  function chip(service) {
    const node = TL.el("span", "svc", service);
    node.style.setProperty("--svc", TL.colour(service));
    return node;
  }

  function row(cells, classes) {
    const line = TL.el("tr");
    cells.forEach((cell, i) => {
      const td = TL.el("td", classes[i] || "");
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      line.append(td);
    });
    return line;
  }

  function label(item, useCorrected) {
    const figure = useCorrected ? item.corrected_rate_per_s : item.rate_per_s;
    const errors = item.error_rate ? ` · ${share(item.error_rate)} err` : "";
    return `${rate(figure)}${errors}${item.p99_ms !== null ? ` · p99 ${TL.ms(item.p99_ms)}` : ""}`;
  }

  function draw(answer, useCorrected) {
    const elements = [];
    for (const service of answer.services) {
      elements.push({
        data: {
          id: service.name,
          label: `${service.name}\n${service.kind === "database" ? "database" : label(service, useCorrected)}`,
          colour: TL.colour(service.name),
          shape: service.kind === "database" ? "barrel" : "round-rectangle",
        },
      });
    }
    for (const edge of answer.edges) {
      elements.push({
        data: {
          id: `${edge.from}->${edge.to}`,
          source: edge.from,
          target: edge.to,
          label: label(edge, useCorrected),
          failing: edge.error_rate > 0 ? "yes" : "no",
        },
      });
    }
    if (graph) graph.destroy();
    graph = cytoscape({
      container: $("map-graph"),
      elements,
      userZoomingEnabled: true,
      wheelSensitivity: 0.3,
      maxZoom: 1.6,
      // Callers to the left of what they call: the canvas is wide, the call chain long.
      layout: {
        name: "breadthfirst",
        directed: true,
        padding: 20,
        spacingFactor: 1.1,
        roots: answer.services.filter((s) => !answer.edges.some((e) => e.to === s.name)).map((s) => s.name),
        transform: (_node, position) => ({ x: position.y * 2.2, y: position.x / 1.6 }),
      },
      style: [
        {
          selector: "node",
          style: {
            shape: "data(shape)",
            "background-color": "data(colour)",
            "background-opacity": 0.25,
            "border-color": "data(colour)",
            "border-width": 2,
            label: "data(label)",
            "text-wrap": "wrap",
            "text-valign": "center",
            "font-size": 11,
            width: 150,
            height: 46,
          },
        },
        {
          selector: "edge",
          style: {
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            width: 2,
            "line-color": "#8c959f",
            "target-arrow-color": "#8c959f",
            label: "data(label)",
            "font-size": 10,
            "text-background-color": "#fff",
            "text-background-opacity": 0.9,
            "text-background-padding": 2,
          },
        },
        { selector: 'edge[failing = "yes"]', style: { "line-color": "#cf222e", "target-arrow-color": "#cf222e" } },
      ],
    });
    TL.mapGraph = graph; // for the browser tests and the curious (the canvas has no DOM)
  }

  function fill(answer) {
    const services = document.querySelector("#map-services tbody");
    services.replaceChildren();
    for (const s of answer.services.filter((item) => item.kind === "service")) {
      const line = row(
        [chip(s.name), rate(s.rate_per_s), corrected(s), share(s.error_rate), TL.ms(s.p50_ms), TL.ms(s.p99_ms), `${s.sampling_probability} (${s.probability_from})`],
        ["", "num", "num", "num", "num", "num", ""],
      );
      line.dataset.service = s.name;
      services.append(line);
    }
    const links = new Map((answer.backend_dependencies || []).map((d) => [`${d.from}->${d.to}`, d.calls]));
    const edges = document.querySelector("#map-edges tbody");
    edges.replaceChildren();
    for (const e of answer.edges) {
      const line = row(
        [chip(e.from), chip(e.to), rate(e.rate_per_s), corrected(e), share(e.error_rate), TL.ms(e.p50_ms), TL.ms(e.p99_ms), String(e.calls_in_traces), answer.backend_dependencies ? String(links.get(`${e.from}->${e.to}`) ?? 0) : "–"],
        ["", "", "num", "num", "num", "num", "num", "num", "num"],
      );
      line.dataset.edge = `${e.from}->${e.to}`;
      edges.append(line);
    }
    const unknown = answer.unattributed_peers || [];
    $("map-unattributed").textContent = unknown.length
      ? `Calls to peers no trace in the window showed an answer from: ${unknown.map((u) => `${u.from} → ${u.peer} (${u.calls})`).join(", ")}.`
      : "";
  }

  async function run(params) {
    const view = $("view-map");
    view.dataset.state = "loading";
    $("map-status").textContent = "reading the span metrics and the traces…";
    const query = new URLSearchParams({ backend: TL.backend(), window: params.get("window") || "5m" });
    try {
      const answer = await TL.api("GET", `/api/service-map?${query}`);
      const sampled = answer.services.filter((s) => s.kind === "service" && s.sampling_probability < 1);
      const note = sampled.length
        ? ` Head sampling p=${sampled[0].sampling_probability} (${sampled[0].probability_from}): corrected rates are the sampled ones ÷ p, ± one standard error.`
        : " Every span is sampled: raw and corrected rates are the same.";
      $("map-status").textContent = `Over the last ${answer.window_s.toFixed(0)} s; ${answer.services.length} services, ${answer.edges.length} calls; peers learnt from ${answer.traces_read} trace(s).${note}`;
      fill(answer);
      draw(answer, $("map-corrected").checked);
      view.dataset.state = "done";
    } catch (failure) {
      $("map-status").textContent = failure.message;
      view.dataset.state = "failed";
      // A console just started has read the span metrics once: ask again soon.
      if (failure.error.code === "metrics_unavailable" && TL.parseRoute().view === "map") {
        view.dataset.state = "waiting";
        setTimeout(() => TL.parseRoute().view === "map" && run(params), 5000);
      }
    }
  }

  TL.views.map = {
    init() {
      $("map-form").addEventListener("submit", (event) => {
        event.preventDefault();
        TL.go("map", null, new URLSearchParams({ backend: TL.backend(), window: $("map-window").value, corrected: String($("map-corrected").checked) }));
      });
    },
    async show(_arg, params) {
      if (params.get("window")) $("map-window").value = params.get("window");
      if (params.get("corrected")) $("map-corrected").checked = params.get("corrected") !== "false";
      await run(params);
    },
  };
})();
