// Compare two traces: spans matched by service and operation path, with the
// latency, self-time and critical-path differences (B minus A), and the spans
// found in one trace only. #/compare?a=<id>&b=<id>
"use strict";

(() => {
  const $ = TL.$;

  function delta(ms) {
    const text = (ms > 0 ? "+" : ms < 0 ? "−" : "") + TL.ms(Math.abs(ms));
    return TL.el("td", `num ${ms > 0.05 ? "worse" : ms < -0.05 ? "better" : ""}`, text);
  }

  function alone(list, spans, traceId, backend) {
    list.replaceChildren();
    if (!spans.length) list.append(TL.el("li", "hint", "none"));
    for (const span of spans) {
      const item = TL.el("li");
      const link = TL.el("a", "", `${span.service} ${span.name}`);
      link.href = `#/trace/${traceId}?backend=${encodeURIComponent(backend)}&span=${span.span_id}`;
      item.append(link, ` ${TL.ms(span.ms)}`);
      list.append(item);
    }
  }

  async function run(a, b) {
    $("view-compare").dataset.state = "loading";
    $("compare-status").textContent = "comparing…";
    const backend = TL.backend();
    try {
      const result = await TL.api("GET", `/api/compare?${new URLSearchParams({ a, b, backend })}`);
      const sign = (ms) => `${ms > 0 ? "+" : ""}${ms.toFixed(1)} ms`;
      $("compare-status").textContent =
        `A ${TL.ms(result.a.duration_ms)} (${result.a.span_count} spans) · B ${TL.ms(result.b.duration_ms)} ` +
        `(${result.b.span_count} spans) · latency ${sign(result.delta_ms)} · critical path ${sign(result.critical_path_delta_ms)}` +
        (result.largest_changes.length
          ? ` · most moved: ${result.largest_changes.slice(0, 3).map((c) => `${c.service} ${c.name} ${sign(c.critical_delta_ms)}`).join(", ")}`
          : "");
      const body = document.querySelector("#compare-table tbody");
      body.replaceChildren();
      for (const row of result.matched) {
        const line = TL.el("tr");
        line.dataset.service = row.service;
        const label = TL.el("td");
        label.style.paddingLeft = `${0.5 + row.depth * 0.9}rem`;
        const chip = TL.el("span", "svc", row.service);
        chip.style.setProperty("--svc", TL.colour(row.service));
        label.append(chip, ` ${row.name}`);
        line.append(label, TL.el("td", "num", TL.ms(row.a_ms)), TL.el("td", "num", TL.ms(row.b_ms)));
        line.append(delta(row.delta_ms), delta(row.self_delta_ms), delta(row.critical_delta_ms));
        body.append(line);
      }
      alone($("only-a"), result.only_a, a, backend);
      alone($("only-b"), result.only_b, b, backend);
      $("view-compare").dataset.state = "done";
    } catch (failure) {
      $("compare-status").textContent = failure.message;
      $("view-compare").dataset.state = "failed";
    }
  }

  TL.views.compare = {
    init() {
      $("compare-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const params = new URLSearchParams({ a: $("compare-a").value.trim(), b: $("compare-b").value.trim() });
        params.set("backend", TL.backend());
        TL.go("compare", null, params);
      });
    },
    async show(_arg, params) {
      $("compare-a").value = params.get("a") || "";
      $("compare-b").value = params.get("b") || "";
      if (params.get("a") && params.get("b")) await run(params.get("a"), params.get("b"));
      else if (params.get("a")) $("compare-b").focus();
    },
  };
})();
