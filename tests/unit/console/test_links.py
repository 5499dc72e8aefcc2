"""Links from the console to the other trace UIs, where a real one runs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tracelab.console.links import grafana_trace_link, jaeger_trace_link, trace_links
from tracelab.console.settings import ConsoleSettings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_jaeger_link():
    assert jaeger_trace_link("http://jaeger:16686/", TRACE_ID) == (
        f"http://jaeger:16686/trace/{TRACE_ID}"
    )


def test_grafana_link_opens_explore_on_the_tempo_data_source():
    url = urlsplit(grafana_trace_link("http://grafana:3000/", TRACE_ID))

    assert (url.scheme, url.netloc, url.path) == ("http", "grafana:3000", "/explore")
    query = parse_qs(url.query)
    assert query["schemaVersion"] == ["1"]
    (pane,) = json.loads(query["panes"][0]).values()
    assert pane["datasource"] == "tempo"
    (tempo_query,) = pane["queries"]
    assert tempo_query["datasource"] == {"type": "tempo", "uid": "tempo"}
    assert tempo_query["query"] == TRACE_ID


def test_links_only_where_those_uis_run():
    local = ConsoleSettings.from_env({})
    assert trace_links(local, TRACE_ID) == {"jaeger": None, "grafana": None}
    compose = ConsoleSettings.from_env(
        {"JAEGER_UI_URL": "http://localhost:16686", "GRAFANA_URL": "http://localhost:3000"}
    )
    links = trace_links(compose, TRACE_ID)
    assert links["jaeger"] == f"http://localhost:16686/trace/{TRACE_ID}"
    assert links["grafana"].startswith("http://localhost:3000/explore?")
