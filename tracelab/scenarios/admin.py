"""Client of the services' admin API (``/admin/scenarios``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import requests
from opentelemetry.instrumentation.utils import suppress_instrumentation

from services.common.admin import SCENARIOS_PATH, TOKEN_HEADER
from services.common.scenarios import CATALOGUE, UnknownScenario


class AdminError(RuntimeError):
    """A service refused or failed an admin call (``status``: its HTTP status, if it answered)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AdminUnavailable(AdminError):
    """A service's admin API could not be reached."""


def _message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300]


class ScenarioAdmin:
    """Switches scenarios in the services that own them.

    Of ``services`` only the scenario owners are asked: the others (the
    public frontend) serve no admin API.
    """

    def __init__(
        self, services: Mapping[str, str], token: str | None, timeout: float = 5.0
    ) -> None:
        owners = CATALOGUE.owners()
        self.services = {name: url for name, url in services.items() if name in owners}
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        if not self.token:
            raise AdminError(
                "no admin token: set TRACELAB_ADMIN_TOKEN (the local stack keeps its own in "
                ".run/secrets/admin-token)"
            )
        headers = {TOKEN_HEADER: self.token}
        with suppress_instrumentation():
            try:
                response = self.session.request(
                    method, url, json=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException:
                raise AdminUnavailable(f"{url.split('/admin/')[0]} is not answering") from None
        if response.status_code != 200:
            raise AdminError(
                f"{method} {url} answered {response.status_code}: {_message(response)}",
                response.status_code,
            )
        return response.json()

    def _owners(self, name: str) -> Iterable[tuple[str, str]]:
        try:
            owners = CATALOGUE.get(name).owner_services
        except UnknownScenario as exc:
            raise AdminError(str(exc)) from None
        return [(svc, url) for svc, url in self.services.items() if svc in owners]

    def switch(self, name: str, on: bool, params: Mapping[str, Any] | None = None) -> list[str]:
        """Switch ``name`` on (with ``params``) or off in the services that own it."""
        method, body = ("PUT", {"params": dict(params or {})}) if on else ("DELETE", None)
        switched = []
        for service, url in self._owners(name):
            self._call(method, f"{url}{SCENARIOS_PATH}/{name}", body)
            switched.append(service)
        return switched

    def states(self) -> dict[str, dict[str, Any]]:
        """Per scenario: ``active`` (on in every owner), ``params`` and ``services``."""
        found: dict[str, dict[str, Any]] = {}
        for service, url in self.services.items():
            for entry in self._call("GET", url + SCENARIOS_PATH)["scenarios"]:
                if service not in entry["services"]:
                    continue
                state = found.setdefault(
                    entry["name"],
                    {"active": True, "params": entry["params"], "summary": entry["summary"]},
                )
                state.setdefault("services", []).append(service)
                state["active"] = state["active"] and entry["active"]
        return found

    def all_off(self) -> list[str]:
        """Switch every scenario off; return the names that were on somewhere."""
        was_on = [name for name, s in self.states().items() if s["active"]]
        for name in CATALOGUE.names():
            self.switch(name, False)
        return was_on

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()
