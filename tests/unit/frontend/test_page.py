"""The HTML page, its static files, the link to the console and the /lab redirect."""

from __future__ import annotations

from services.frontend.links import TRACE_ID_MARKER, console_trace_link
from tests.unit.frontend.conftest import CONSOLE
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
    assert f'data-console-link="{CONSOLE}/#/trace/{TRACE_ID_MARKER}"' in html
    # The demo page links to the console only: no trace UI, no lab, no log folder.
    assert "16686" not in html and "jaeger" not in html.lower() and "lab.js" not in html
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
    assert "dataset.consoleLink" in script.get_data(as_text=True)
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


def test_console_link():
    assert console_trace_link("http://127.0.0.1:8090/", TRACE_ID) == (
        f"http://127.0.0.1:8090/#/trace/{TRACE_ID}"
    )


def test_lab_redirects_to_the_console(client, spans):
    response = client.get("/lab")

    assert response.status_code == 302
    assert response.headers["Location"] == f"{CONSOLE}/#/lab"
