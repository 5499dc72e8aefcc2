"""Links from a trace id to the other trace UIs where a real one runs (Compose, Kubernetes).

Jaeger built from source (local mode) serves a placeholder page instead of
its UI, and Grafana runs only in Compose and Kubernetes, so the console
shows these links only where ``JAEGER_UI_URL`` / ``GRAFANA_URL`` are set.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from tracelab.console.settings import ConsoleSettings

# The uid the Grafana provisioning gives the Tempo data source.
TEMPO_DATASOURCE_UID = "tempo"


def jaeger_trace_link(jaeger_ui_url: str, trace_id: str) -> str:
    """The Jaeger UI page of ``trace_id``."""
    return f"{jaeger_ui_url.rstrip('/')}/trace/{trace_id}"


def grafana_trace_link(grafana_url: str, trace_id: str) -> str:
    """Grafana Explore querying the Tempo data source for ``trace_id``."""
    datasource = {"type": "tempo", "uid": TEMPO_DATASOURCE_UID}
    pane = {
        "datasource": TEMPO_DATASOURCE_UID,
        "queries": [
            {"refId": "A", "datasource": datasource, "queryType": "traceql", "query": trace_id}
        ],
        "range": {"from": "now-1h", "to": "now"},
    }
    query = {
        "schemaVersion": "1",
        "orgId": "1",
        "panes": json.dumps({"trace": pane}, separators=(",", ":")),
    }
    return f"{grafana_url.rstrip('/')}/explore?{urlencode(query)}"


def trace_links(settings: ConsoleSettings, trace_id: str) -> dict[str, str | None]:
    """The trace in Jaeger's UI and in Grafana, where those run (else None)."""
    return {
        "jaeger": jaeger_trace_link(settings.jaeger_ui_url, trace_id)
        if settings.jaeger_ui_url
        else None,
        "grafana": grafana_trace_link(settings.grafana_url, trace_id)
        if settings.grafana_url
        else None,
    }
