// The critical path over many traces: for the last N traces of a journey,
// which service and operation the end-to-end latency waited for (p50, p99,
// mean, share), and against the window before. #/critical-path?journey=...
"use strict";

(() => {
  const $ = TL.$;
  const LOOKBACK_S = { "5m": 300, "15m": 900, "1h": 3600, "6h": 21600 };

  function row(cells, classes = []) {
    const line = TL.el("tr");
    cells.forEach((cell, i) => {
      if (cell instanceof Node) {
        const td = TL.el("td", classes[i] || "");
        td.append(cell);
        line.append(td);
      } else {
        line.append(TL.el("td", classes[i] || "", cell));
      }
    });
    return line;
  }

  function chip(service) {
    const node = TL.el("span", "svc", service);
    node.style.setProperty("--svc", TL.colour(service));
    return node;
  }

  function bar(share) {
    const box = TL.el("div", "share-bar");
    const fill = TL.el("div", "share-fill");
    fill.style.width = `${Math.min(100, share * 100).toFixed(1)}%`;
    box.append(fill, TL.el("span", "share-text", `${(share * 100).toFixed(1)}%`));
    return box;
  }

  async function run(params) {
    $("view-critical-path").dataset.state = "loading";
    $("cp-status").textContent = "reading traces…";
    const query = new URLSearchParams({ backend: TL.backend(), journey: params.get("journey"), last: params.get("last") || "200" });
    const lookback = params.get("lookback") || "1h";
    const now = Date.now();
    const span = (LOOKBACK_S[lookback] || 3600) * 1000;
    query.set("start", String(now - span));
    query.set("end", String(now));
    if (params.get("versus") === "true") {
      query.set("vs_start", String(now - 2 * span));
      query.set("vs_end", String(now - span));
    }
    try {
      const answer = await TL.api("GET", `/api/critical-path?${query}`);
      const p = answer.profile;
      $("cp-status").textContent = `${p.traces} ${answer.journey} trace(s): latency p50 ${TL.ms(p.latency_p50_ms)}, p99 ${TL.ms(p.latency_p99_ms)}`;
      $("cp-headline").textContent = answer.headline ? `Against the window before: ${answer.headline}.` : answer.note || "";
      const body = document.querySelector("#cp-table tbody");
      body.replaceChildren();
      for (const op of p.operations) {
        body.append(row([chip(op.service), op.name, TL.ms(op.p50_ms), TL.ms(op.p99_ms), TL.ms(op.mean_ms), bar(op.share), `${op.on_path_in}/${p.traces}`], ["", "", "num", "num", "num", "", "num"]));
      }
      const changes = document.querySelector("#cp-changes tbody");
      changes.replaceChildren();
      $("cp-changes").hidden = $("cp-changes-title").hidden = !(answer.changes && answer.changes.length);
      for (const change of answer.changes || []) {
        changes.append(row([chip(change.service), change.name, TL.ms(change.before_p50_ms), TL.ms(change.after_p50_ms), `${change.delta_p50_ms > 0 ? "+" : ""}${change.delta_p50_ms.toFixed(1)} ms`, `${change.delta_p99_ms > 0 ? "+" : ""}${change.delta_p99_ms.toFixed(1)} ms`], ["", "", "num", "num", "num", "num"]));
      }
      $("view-critical-path").dataset.state = "done";
    } catch (failure) {
      $("cp-status").textContent = failure.message;
      $("view-critical-path").dataset.state = "failed";
    }
  }

  TL.views["critical-path"] = {
    init() {
      $("cp-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const params = new URLSearchParams({
          backend: TL.backend(),
          journey: $("cp-journey").value,
          last: $("cp-last").value,
          lookback: $("cp-lookback").value,
        });
        if ($("cp-versus").checked) params.set("versus", "true");
        TL.go("critical-path", null, params);
      });
    },
    async show(_arg, params) {
      const select = $("cp-journey");
      if (!select.options.length) {
        for (const journey of (TL.status && TL.status.journeys) || []) select.append(new Option(journey.title, journey.name));
        select.value = "dashboard";
      }
      if (params.get("journey")) select.value = params.get("journey");
      if (params.get("last")) $("cp-last").value = params.get("last");
      if (params.get("lookback")) $("cp-lookback").value = params.get("lookback");
      $("cp-versus").checked = params.get("versus") === "true";
      if (params.get("journey")) await run(params);
    },
  };
})();
