// The exercise view: a learner's diagnosis form (graded by the console's
// server against the answer key and the trace's detectors), the grade per
// field, the reveal (the trace with the finding's spans highlighted), and the
// leader's list of every learner's attempts.
"use strict";

(() => {
  const $ = TL.$;
  const LEARNER_KEY = "tracelab.learner";

  function seconds(value) {
    if (value === null || value === undefined) return "–";
    return value >= 60 ? `${Math.floor(value / 60)} min ${Math.round(value % 60)} s` : `${Math.round(value)} s`;
  }

  function drawStatus(doc) {
    const session = doc.session;
    $("ex-session").textContent = session
      ? `${session.kind} ${session.id}, ${session.running ? "running" : "stopped"}`
      : "(none running: the leader starts one with `tracelab exercise start`)";
    $("ex-submit").disabled = !(session && session.running);
    const select = $("ex-cause");
    if (!select.options.length) {
      select.append(new Option("choose the cause…", ""));
      for (const cause of doc.causes) select.append(new Option(`${cause.id}: ${cause.summary}`, cause.id));
    }
    const answer = $("ex-answer");
    const plan = doc.answer && doc.answer.plan;
    answer.hidden = !plan;
    if (plan) {
      const faults = plan.scenario ? [plan.scenario] : [...new Set(doc.answer.switches.map((s) => s.scenario))];
      answer.textContent = `The answer: ${faults.join(", ")}`;
      const w = doc.result && doc.result.whatif;
      if (w) {
        let text = ` · the fix: p50 ${TL.ms(w.on.p50_ms)} → projected ${TL.ms(w.projected.p50_ms)}`;
        if (w.measured) text += `, measured ${TL.ms(w.measured.p50_ms)}`;
        answer.append(TL.el("span", "hint", text));
      }
    }
    const body = document.querySelector("#ex-learners tbody");
    body.replaceChildren();
    for (const row of doc.learners) {
      const line = TL.el("tr");
      line.dataset.learner = row.learner;
      line.append(
        TL.el("td", "", row.learner),
        TL.el("td", "num", row.attempts),
        TL.el("td", row.correct ? "ok" : "errors", row.correct ? "yes" : "not yet"),
        TL.el("td", "num", row.correct ? seconds(row.time_to_correct_s) : "–"),
      );
      body.append(line);
    }
    if (!doc.learners.length) {
      const empty = TL.el("tr");
      empty.append(TL.el("td", "hint", "no submission yet"));
      body.append(empty);
    }
  }

  function drawResult(result) {
    const box = $("ex-result");
    box.hidden = false;
    box.replaceChildren();
    box.dataset.correct = String(result.correct);
    box.append(TL.el("h3", `verdict ${result.correct ? "ok" : "bad"}`, result.correct ? "Correct" : "Not yet"));
    const list = TL.el("ul", "ex-fields");
    for (const [name, field] of Object.entries(result.fields)) {
      const item = TL.el("li", `check ${field.ok ? "ok" : "bad"}`);
      item.dataset.field = name;
      item.dataset.ok = String(field.ok);
      item.append(TL.el("strong", "", `${field.ok ? "✓" : "✗"} ${name}`), ` ${field.given}: `, TL.el("span", "why", field.why));
      list.append(item);
    }
    box.append(list);
    const reveal = result.reveal;
    if (reveal) {
      const text = TL.el("p", "reveal");
      const link = TL.el("a", "", "open the trace with the finding highlighted");
      link.id = "ex-reveal-link";
      link.href = reveal.link;
      text.append(`The fault: ${reveal.scenario} (${reveal.summary}). `, link, ".");
      const w = reveal.whatif;
      box.append(
        text,
        TL.el("p", "hint", `What-if: the fix would take this trace from ${TL.ms(w.latency_ms)} to ${TL.ms(w.projected_ms)} (gain ${TL.ms(w.gain_ms)}).`),
      );
    }
  }

  async function load() {
    try {
      drawStatus(await TL.api("GET", "/api/exercise"));
    } catch (failure) {
      $("ex-session").textContent = `unavailable: ${failure.message}`;
    }
  }

  async function send(event) {
    event.preventDefault();
    const form = new FormData($("ex-form"));
    const body = Object.fromEntries(form.entries());
    body.backend = TL.backend();
    localStorage.setItem(LEARNER_KEY, body.learner);
    $("ex-submit").disabled = true;
    const box = $("ex-result");
    box.hidden = false;
    box.dataset.correct = "";
    box.textContent = "grading: fetching the trace and running the detectors…";
    try {
      drawResult(await TL.api("POST", "/api/exercise/submissions", body));
    } catch (failure) {
      box.replaceChildren(TL.el("p", "errors", failure.message));
      box.dataset.correct = "error";
    }
    await load();
  }

  TL.views.exercise = {
    init() {
      $("ex-form").addEventListener("submit", send);
      $("ex-learner").value = localStorage.getItem(LEARNER_KEY) || "";
    },
    async show(_arg, params) {
      if (params.get("trace")) $("ex-trace").value = params.get("trace");
      await load();
    },
  };
})();
