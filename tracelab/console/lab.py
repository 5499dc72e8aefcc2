"""The console's workshop side: fire a journey through the frontend, switch scenarios.

Journeys go to the frontend's public API like any browser's requests (the
frontend starts their traces); scenarios are switched through every owning
service's admin API with the admin token, which never reaches the browser.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import requests

from services.common.admin import admin_token
from services.common.errors import ApiError, NotFound
from services.common.scenarios import CATALOGUE, UnknownScenario
from tracelab.journeys import JOURNEYS, journey
from tracelab.scenarios.admin import AdminError, AdminUnavailable, ScenarioAdmin
from tracelab.scenarios.traffic import Traffic


def _unavailable(what: str, url: str, hint: str) -> ApiError:
    return ApiError(
        503,
        "service_unavailable",
        f"{what} at {url} is not answering: start it with `{hint}`",
        details={"component": what, "url": url, "hint": hint},
    )


class Lab:
    """Journeys and scenarios of one stack."""

    def __init__(self, services: Mapping[str, str], start_hint: str) -> None:
        self.services = dict(services)
        self.start_hint = start_hint
        self._traffic = Traffic(self.services["frontend"], local_only=False)
        self._lock = threading.Lock()

    @staticmethod
    def journeys() -> list[dict[str, Any]]:
        """The journeys a person can fire."""
        return [
            {"name": j.name, "title": j.title, "summary": j.summary, "expected": j.expected_status}
            for j in JOURNEYS
        ]

    def fire(self, name: str, user: int = 1) -> dict[str, Any]:
        """Run journey ``name`` once; its status, trace id and latency."""
        try:
            journey(name)
        except ValueError as exc:
            raise NotFound(str(exc), "unknown_journey") from None
        try:
            with self._lock:  # one journey at a time: the token cache is shared
                answer = self._traffic.journey(name, user)
        except (requests.RequestException, RuntimeError):
            raise _unavailable("frontend", self.services["frontend"], self.start_hint) from None
        return {
            "journey": answer.journey,
            "status": answer.status,
            "trace_id": answer.trace_id,
            "elapsed_ms": round(answer.elapsed_ms, 1),
        }

    def _admin(self) -> ScenarioAdmin:
        token = admin_token()
        if token is None:
            raise ApiError(
                503,
                "admin_token_missing",
                "the console has no admin token (TRACELAB_ADMIN_TOKEN or "
                f"TRACELAB_ADMIN_TOKEN_FILE): start it with `{self.start_hint}`, which sets one",
            )
        # ScenarioAdmin asks only the services that own a scenario (the frontend owns none).
        return ScenarioAdmin(self.services, token)

    def _down(self, exc: AdminError) -> ApiError:
        return ApiError(
            503, "service_unavailable", f"{exc.message}: start it with `{self.start_hint}`"
        )

    def scenarios(self) -> list[dict[str, Any]]:
        """Every scenario of the catalogue with its state in the services that own it."""
        admin = self._admin()
        try:
            states = admin.states()
        except AdminUnavailable as exc:
            raise self._down(exc) from None
        except AdminError as exc:
            raise ApiError(502, "bad_gateway", str(exc)) from None
        finally:
            admin.close()
        return [
            {
                "name": scenario.name,
                "summary": scenario.summary,
                "services": list(scenario.owner_services),
                "defaults": dict(scenario.defaults),
                "active": bool(states.get(scenario.name, {}).get("active")),
                "params": states.get(scenario.name, {}).get("params", dict(scenario.defaults)),
            }
            for scenario in CATALOGUE.all()
        ]

    def switch(self, name: str, on: bool, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Switch scenario ``name`` on (with ``params``) or off everywhere it lives."""
        try:
            CATALOGUE.get(name)
        except UnknownScenario as exc:
            raise NotFound(str(exc), "unknown_scenario") from None
        admin = self._admin()
        try:
            switched = admin.switch(name, on, params)
        except AdminUnavailable as exc:
            raise self._down(exc) from None
        except AdminError as exc:
            if exc.status == 404:
                # The console knows the name, the service does not: it runs older code.
                raise NotFound(
                    f"{exc.message} (that service runs an older scenario declaration: "
                    f"restart it with `{self.start_hint}`)",
                    "unknown_scenario",
                ) from None
            # A 422 from the service (a parameter out of bounds) is the person's to fix.
            status = 422 if exc.status == 422 else 502
            raise ApiError(status, "scenario_refused", exc.message) from None
        finally:
            admin.close()
        return {"name": name, "active": on, "services": switched}
