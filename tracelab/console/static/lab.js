// Journeys and scenarios: fire a journey through the frontend (the console's
// server sends it, so the frontend starts the trace) and land on its trace;
// switch the injected faults on and off in the services that own them.
"use strict";

(() => {
  const $ = TL.$;

  function drawJourneys() {
    const box = $("journeys");
    box.replaceChildren();
    for (const journey of (TL.status && TL.status.journeys) || []) {
      const button = TL.el("button", journey.expected === 200 ? "" : "secondary", journey.title);
      button.type = "button";
      button.dataset.journey = journey.name;
      button.title = journey.summary;
      button.addEventListener("click", () => fire(journey, button));
      box.append(button);
    }
  }

  async function fire(journey, button) {
    button.disabled = true;
    $("journey-status").textContent = `${journey.title}: sending…`;
    try {
      const answer = await TL.api("POST", `/api/journeys/${journey.name}`, {});
      $("journey-status").textContent = `${journey.title}: HTTP ${answer.status} in ${TL.ms(answer.elapsed_ms)}`;
      if (answer.trace_id) TL.openTrace(answer.trace_id, { from: journey.name, status: answer.status });
      else $("journey-status").textContent += " (no traceresponse header: not traced)";
    } catch (failure) {
      $("journey-status").textContent = `${journey.title}: ${failure.message}`;
    } finally {
      button.disabled = false;
    }
  }

  async function loadScenarios() {
    const list = $("scenarios");
    let answer;
    try {
      answer = await TL.api("GET", "/api/scenarios");
    } catch (failure) {
      list.replaceChildren(TL.el("li", "hint", `scenarios unavailable: ${failure.message}`));
      return;
    }
    list.replaceChildren();
    for (const scenario of answer.scenarios) {
      const item = TL.el("li");
      item.dataset.scenario = scenario.name;
      const box = TL.el("input");
      box.type = "checkbox";
      box.checked = scenario.active;
      box.setAttribute("aria-label", `switch ${scenario.name}`);
      box.addEventListener("change", async () => {
        box.disabled = true;
        try {
          if (box.checked) await TL.api("PUT", `/api/scenarios/${scenario.name}`, { params: {} });
          else await TL.api("DELETE", `/api/scenarios/${scenario.name}`);
        } catch (failure) {
          $("journey-status").textContent = `${scenario.name}: ${failure.message}`;
        }
        await loadScenarios();
      });
      const params = Object.entries(scenario.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
      item.append(
        box,
        TL.el("span", `name${scenario.active ? " on" : ""}`, scenario.name),
        TL.el("span", "hint", ` [${scenario.services.join(", ")}] ${scenario.summary}${params ? ` (${params})` : ""}`),
      );
      list.append(item);
    }
  }

  TL.views.lab = {
    async show() {
      drawJourneys();
      await loadScenarios();
    },
  };
})();
