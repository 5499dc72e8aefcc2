"""The mismatch report reads as an expected-versus-actual tree diff."""

from __future__ import annotations

import textwrap

from tests.unit.shapes.builders import TRACE_ID, build, http_client, http_server, node
from tracelab.shapes.matcher import match
from tracelab.shapes.shape import load_shape_text

SHAPE = textwrap.dedent(
    """
    description: Profile journey, trimmed for the test.
    root:
      service: frontend
      name: GET /api/users/{id}
      kind: server
      status: unset
      children:
        - id: call
          service: frontend
          name: GET
          kind: client
          children:
            - service: gateway
              name: GET /api/users/{id}
              kind: server
              status: unset
              attributes: {http.response.status_code: 200}
    """
)


def _trace(gateway_status: str = "unset", gateway_code: int = 200, extra: bool = False):
    gateway = http_server("gateway", "GET", "/api/users/{id}", gateway_code, start=2, end=18)
    gateway.status = gateway_status
    children = [
        http_client("frontend", "GET", "http://gw/api/users/1", start=1, end=19, children=[gateway])
    ]
    if extra:
        children.append(node("frontend", "cache.lookup", start=0.5, end=0.9))
    return build(
        http_server("frontend", "GET", "/api/users/{id}", start=0, end=20, children=children)
    )


def test_report_of_a_mismatch_lists_mismatches_then_both_trees():
    result = match(
        load_shape_text(SHAPE, "profile.yaml", "profile"), _trace("error", 500, extra=True)
    )
    report = result.report()
    lines = report.splitlines()
    assert lines[0] == f"MISMATCH: trace {TRACE_ID} vs shape 'profile' (profile.yaml)"
    assert lines[1] == "Profile journey, trimmed for the test."
    where = "gateway 'GET /api/users/{id}' [root.children[0].children[0]]"
    assert "3 mismatch(es):" in lines
    assert f"  1. {where}: status: expected unset, found error" in lines
    assert f"  2. {where}: attribute http.response.status_code: expected 200, found 500" in lines
    assert (
        "  3. frontend 'GET /api/users/{id}' [root]: unexpected child: expected no further child,"
        " found frontend 'cache.lookup' [internal] unset"
    ) in lines

    expected = lines[lines.index("expected:") + 1 : lines.index("expected:") + 4]
    assert expected == [
        "  frontend 'GET /api/users/{id}' [server] status=unset",
        "    frontend 'GET' [client] #call",
        "      gateway 'GET /api/users/{id}' [server] status=unset {http.response.status_code=200}",
    ]
    actual_header = next(i for i, line in enumerate(lines) if line.startswith("actual ("))
    assert (
        lines[actual_header] == "actual (4 span(s), 20.0 ms; !! marks spans named in a mismatch):"
    )
    assert lines[actual_header + 1 :] == [
        "     frontend 'GET /api/users/{id}' [server] unset @+0.0ms 20.0 ms",
        "  !!   frontend 'cache.lookup' [internal] unset @+0.5ms 0.4 ms   <- 3",
        "       frontend 'GET' [client] unset @+1.0ms 18.0 ms",
        "  !!     gateway 'GET /api/users/{id}' [server] error @+2.0ms 16.0 ms   <- 1, 2",
    ]


def test_report_of_a_match_is_short():
    result = match(load_shape_text(SHAPE, "profile.yaml", "profile"), _trace())
    report = result.report()
    assert report.startswith(f"MATCH: trace {TRACE_ID} vs shape 'profile'")
    assert "mismatch" not in report.split("\n", 2)[2].split("actual")[0]
    assert "expected:" not in report
    assert "       frontend 'GET' [client] unset @+1.0ms 18.0 ms" in report.splitlines()


def test_wrong_root_is_explained_against_the_closest_root():
    trace = build(node("gateway", "GET /api/users/{id}", "server"))
    report = match(load_shape_text(SHAPE, "p.yaml"), trace).report()
    assert "[root]: service: expected 'frontend', found 'gateway'" in report
    assert "[root]: kind: expected server, found server" not in report
    assert (
        "missing: expected 1 span(s) [client], found 0 under gateway 'GET /api/users/{id}'"
        in report
    )
