"""Loading shape files: the format and clear errors naming the file and the bad key."""

from __future__ import annotations

import textwrap

import pytest

from tracelab.shapes.shape import Count, ShapeError, load_shape


def write(tmp_path, text: str, name: str = "journey.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ShapeError) as info:
        load_shape(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def test_full_format_loads(tmp_path):
    path = write(
        tmp_path,
        """
        description: |
          A journey.
          Second line.
        single_trace: true
        absent_attributes: [db.statement.parameters]
        overlap: [[a, b]]
        root:
          service: gateway
          name: GET /api/dashboard
          kind: server
          status: unset
          status_message: {present: false}
          attributes:
            http.response.status_code: 200
            http.route: {regex: ^/api/}
            server.address: {present: true}
            http.request.method: {one_of: [GET, HEAD]}
          absent_attributes: ["http.request.header.*"]
          events: [exception, {name: retry, attributes: {attempt: 2}}]
          absent_events: [panic]
          ordered: false
          allow_extra_children: true
          concurrent_children: true
          note: the edge
          children:
            - {id: a, name_regex: ^GET, count: {min: 1, max: 2}}
            - {id: b, kind: client, count: 3}
            - {kind: internal, count: {min: 0}}
        """,
    )
    shape = load_shape(path)
    assert shape.name == "journey" and shape.source == str(path)
    assert shape.description == "A journey.\nSecond line."
    assert shape.single_trace and shape.overlap == (("a", "b"),)
    root = shape.root
    assert (root.service, root.name, root.kind, root.status) == (
        "gateway",
        "GET /api/dashboard",
        "server",
        "unset",
    )
    assert [key for key, _ in root.attributes] == [
        "http.response.status_code",
        "http.route",
        "server.address",
        "http.request.method",
    ]
    assert [e.describe() for e in root.events] == ["exception", "retry{attempt=2}"]
    assert root.allow_extra_children and root.concurrent_children and not root.ordered
    assert [c.count for c in root.children] == [Count(1, 2), Count(3, 3), Count(0, None)]
    assert [c.path for c in root.children] == [
        "root.children[0]",
        "root.children[1]",
        "root.children[2]",
    ]
    assert shape.node("b").kind == "client"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("root:\n  chidren: []\n", "root.chidren: unknown key (did you mean 'children'?)"),
        (
            "root:\n  children:\n    - kind: sever\n",
            "root.children[0].kind: expected one of server",
        ),
        ("root:\n  status: failed\n", "root.status: expected one of unset, ok, error"),
        ("root:\n  name: a\n  name_regex: b\n", "root.name_regex: give either name or name_regex"),
        ("root:\n  name_regex: '(unclosed'\n", "root.name_regex: bad regex '(unclosed'"),
        (
            "root:\n  attributes:\n    http.route: {regexp: x}\n",
            "root.attributes.http.route: a mapping must have exactly one key of",
        ),
        ("root:\n  attributes:\n    k: null\n", "root.attributes.k: null is not a value to match"),
        (
            "root:\n  attributes:\n    k: {present: yes please}\n",
            "root.attributes.k.present: expected true or false, got 'yes please'",
        ),
        ("root:\n  children:\n    - count: 0\n", "root.children[0].count: an exact count must be"),
        (
            "root:\n  children:\n    - count: {min: 3, max: 2}\n",
            "root.children[0].count: need min <= max",
        ),
        (
            "root:\n  children:\n    - count: {most: 2}\n",
            "root.children[0].count.most: unknown key",
        ),
        ("root:\n  count: 2\n", "root.count: the root stands for one span"),
        ("root:\n  ordered: 'yes'\n", "root.ordered: expected true or false"),
        ("root:\n  children: {name: x}\n", "root.children: expected a list of nodes"),
        ("root:\n  events: [{attributes: {}}]\n", "root.events[0].name: required key is missing"),
        (
            "root:\n  absent_attributes: password\n",
            "root.absent_attributes: expected a list of strings",
        ),
        ("description: x\n", "root: required key is missing"),
        (
            "root: {}\nsingel_trace: true\n",
            "singel_trace: unknown key (did you mean 'single_trace'?)",
        ),
        ("root: {}\noverlap: [[a, b]]\n", "overlap[0]: no node has id 'a'"),
        ("root: {}\noverlap: [a]\n", "overlap[0]: expected a pair [id, id]"),
        (
            "root:\n  id: x\n  children: [{id: x}]\n",
            "root.children[0].id: duplicate id 'x'",
        ),
        (
            "root:\n  children:\n    - count: {min: -1}\n",
            "root.children[0].count.min: expected at least 0, got -1",
        ),
        (
            "root:\n  children:\n    - count: many\n",
            "root.children[0].count: expected an integer or a mapping, got 'many'",
        ),
        ("root:\n  attributes:\n    k: {regex: '(x'}\n", "root.attributes.k.regex: bad regex '(x'"),
        ("root:\n  attributes:\n    k: {}\n", "root.attributes.k: a mapping must have exactly"),
        (
            "root:\n  attributes:\n    k: {one_of: []}\n",
            "root.attributes.k.one_of: expected at least 1",
        ),
        ("root:\n  status_message: null\n", "root.status_message: null is not a value to match"),
        ("root:\n  events: ['']\n", "root.events[0]: must not be empty"),
        ("root:\n  service: 5\n", "root.service: expected a string, got 5"),
        ("root: {}\nsingle_trace: 1\n", "single_trace: expected true or false, got 1"),
        ("- just a list\n", "(top): expected a mapping, got ['just a list']"),
        ("root: {service: [1\n", "line 2, column 1: invalid YAML"),
    ],
)
def test_errors_name_file_and_path(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message.startswith(expected), message


def test_unreadable_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ShapeError, match=r"nope\.yaml: cannot read"):
        load_shape(missing)


def test_name_key_overrides_the_file_stem(tmp_path):
    assert load_shape(write(tmp_path, "name: custom\nroot: {}\n")).name == "custom"


def test_every_violation_is_reported_in_file_order(tmp_path):
    text = """
        root:
          kind: sever
          children:
            - status: failed
            - {name: a, name_regex: b}
        allow_extra_roots: maybe
        """
    lines = error_of(tmp_path, text).split("\n")
    path = tmp_path / "journey.yaml"
    assert [line.removeprefix(f"{path}: ").split(":")[0] for line in lines] == [
        "allow_extra_roots",
        "root.children[0].status",
        "root.children[1].name_regex",
        "root.kind",
    ]
