// The trace view's analysis panels: the findings of every detector (a click
// highlights the spans they name) and the trace against a golden shape (the
// expected tree with each node marked, the checks, and the spans marked in the
// waterfall: matched, differing with the reason, or extra).
"use strict";

(() => {
  const $ = TL.$;
  let shapes = null;

  function clear() {
    $("findings").replaceChildren();
    $("findings-count").textContent = "";
    $("diff-nodes").replaceChildren();
    $("diff-checks").replaceChildren();
    $("diff-verdict").textContent = "";
    $("findings-box").dataset.state = "";
    $("diff-box").dataset.state = "";
  }

  async function loadFindings(data) {
    const list = $("findings");
    try {
      const answer = await TL.api("GET", `/api/trace/${data.trace_id}/findings?backend=${encodeURIComponent(data.backend)}`);
      list.replaceChildren();
      $("findings-count").textContent = answer.findings.length
        ? `(${answer.findings.length}; click one to see its spans)`
        : "(none: no detector found anything wrong)";
      for (const finding of answer.findings) {
        const item = TL.el("li", "finding");
        item.dataset.kind = finding.kind;
        item.tabIndex = 0;
        item.append(TL.el("span", "finding-kind", finding.kind), " ", TL.el("span", "finding-title", finding.title));
        const evidence = Object.entries(finding.evidence)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`)
          .join(" · ");
        item.append(TL.el("div", "hint evidence", evidence));
        const show = () => {
          for (const other of list.children) other.classList.remove("current");
          item.classList.add("current");
          TL.trace.highlight(finding.spans, "highlight");
        };
        item.addEventListener("click", show);
        item.addEventListener("keydown", (event) => event.key === "Enter" && show());
        list.append(item);
      }
      $("findings-box").dataset.state = "loaded";
    } catch (failure) {
      list.replaceChildren(TL.el("li", "hint", `findings unavailable: ${failure.message}`));
      $("findings-box").dataset.state = "failed";
    }
  }

  async function loadShapes() {
    if (shapes) return shapes;
    const answer = await TL.api("GET", "/api/shapes");
    shapes = answer.shapes;
    const select = $("diff-shape");
    select.replaceChildren(new Option("its journey's shape", ""));
    for (const shape of shapes) select.append(new Option(shape.name, shape.name));
    return shapes;
  }

  function drawDiff(diff) {
    $("diff-verdict").textContent = diff.ok ? `matches ${diff.shape_name}` : `differs from ${diff.shape_name}`;
    $("diff-verdict").className = `verdict ${diff.ok ? "ok" : "bad"}`;
    const checks = $("diff-checks");
    checks.replaceChildren();
    for (const check of diff.checks) {
      const line = TL.el("p", `check ${check.ok ? "ok" : "bad"}`);
      line.dataset.ok = String(check.ok);
      line.append(TL.el("strong", "", check.ok ? "✓ " : "✗ "), check.check);
      if (check.reasons.length) line.append(TL.el("div", "hint", check.reasons.join("; ")));
      line.addEventListener("click", () => TL.trace.highlight(check.spans, "highlight"));
      checks.append(line);
    }
    const list = $("diff-nodes");
    list.replaceChildren();
    for (const node of diff.nodes) {
      const item = TL.el("li", `diff-node ${node.status.replace(/ /g, "-")}`);
      item.dataset.status = node.status;
      item.style.paddingLeft = `${node.depth * 1.1}rem`;
      const symbol = { ok: "✓", differs: "✗", missing: "∅", "differs below": "›", "not reached": "·" }[node.status] || "?";
      item.append(TL.el("span", "symbol", symbol), " ", TL.el("code", "", node.label));
      if (node.reasons.length) item.append(TL.el("div", "reason", node.reasons.join("; ")));
      if (node.spans.length) item.addEventListener("click", () => TL.trace.highlight(node.spans, "highlight"));
      list.append(item);
    }
    TL.trace.mark(diff.spans);
  }

  async function loadDiff(data, shapeName) {
    try {
      await loadShapes();
      const query = new URLSearchParams({ backend: data.backend });
      if (shapeName) query.set("shape", shapeName);
      const diff = await TL.api("GET", `/api/trace/${data.trace_id}/diff?${query}`);
      $("diff-shape").value = shapeName || "";
      drawDiff(diff);
      $("diff-box").dataset.state = diff.ok ? "ok" : "differs";
    } catch (failure) {
      $("diff-verdict").textContent = failure.message;
      $("diff-verdict").className = "verdict";
      $("diff-nodes").replaceChildren();
      TL.trace.mark({});
      $("diff-box").dataset.state = "none";
    }
  }

  TL.beforeTrace = clear;
  TL.afterTrace = async (data, params) => {
    await Promise.all([loadFindings(data), loadDiff(data, params.get("shape") || "")]);
    // A link may name spans to highlight (the exercise's reveal: the finding's spans).
    const wanted = (params.get("highlight") || "").split(",").filter(Boolean);
    if (wanted.length) TL.trace.highlight(wanted, "highlight");
  };

  document.addEventListener("DOMContentLoaded", () => {
    $("diff-shape").addEventListener("change", () => {
      const data = TL.trace.current();
      if (data) loadDiff(data, $("diff-shape").value);
    });
  });
})();
