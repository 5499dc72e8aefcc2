"""Links from a trace id to the trace UIs (Jaeger, Grafana Explore on Tempo)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

# The page substitutes the trace id for this marker; URL encoding leaves it intact.
TRACE_ID_MARKER = "__TRACE_ID__"

# The uid the Grafana provisioning gives the Tempo data source.
TEMPO_DATASOURCE_UID = "tempo"


def jaeger_trace_link(jaeger_ui_url: str, trace_id: str = TRACE_ID_MARKER) -> str:
    """The Jaeger UI page of ``trace_id``."""
    return f"{jaeger_ui_url.rstrip('/')}/trace/{trace_id}"


def grafana_trace_link(grafana_url: str, trace_id: str = TRACE_ID_MARKER) -> str:
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
