"""The HTML page, its static files and the links to the trace UIs."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from services.frontend.links import TRACE_ID_MARKER, grafana_trace_link, jaeger_trace_link
from tests.unit.frontend.conftest import GRAFANA, JAEGER_UI
from tests.unit.frontend.helpers import hex_ids, server_span, traceresponse_ids

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_the_page_renders_the_login_form_and_trace_link_templates(client, spans):
    response = client.get("/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<form id="login-form"' in html
    assert 'value="user0001@tracelab.test"' in html
    assert 'value="tracelab-pass-0001"' in html
    assert f'data-jaeger-link="{JAEGER_UI}/trace/{TRACE_ID_MARKER}"' in html
    assert f'data-grafana-link="{GRAFANA}/explore?' in html
    assert f'data-trace-marker="{TRACE_ID_MARKER}"' in html
    assert 'src="/static/app.js"' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert traceresponse_ids(response) == hex_ids(server_span(spans, "GET /"))


def test_static_files_are_served_with_a_traceresponse(client, spans):
    script = client.get("/static/app.js")
    style = client.get("/static/app.css")

    assert script.status_code == 200 and style.status_code == 200
    assert script.mimetype in {"text/javascript", "application/javascript"}
    # The page reads the trace id from this header and fills the link templates.
    assert "traceresponse" in script.get_data(as_text=True)
    assert "dataset.jaegerLink" in script.get_data(as_text=True)
    served = spans.named("GET /static/<path:filename>")
    assert [hex_ids(span) for span in served] == [
        traceresponse_ids(script),
        traceresponse_ids(style),
    ]
    assert {span.attributes["http.route"] for span in served} == {"/static/<path:filename>"}


def test_an_unknown_page_is_a_json_404_with_a_traceresponse(client):
    response = client.get("/nowhere")

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    traceresponse_ids(response)


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


def test_the_trace_id_marker_survives_url_encoding():
    template = grafana_trace_link("http://grafana:3000")

    assert template.count(TRACE_ID_MARKER) == 1
    assert template.replace(TRACE_ID_MARKER, TRACE_ID) == grafana_trace_link(
        "http://grafana:3000", TRACE_ID
    )
