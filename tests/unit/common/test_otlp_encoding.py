"""services.common.otlp_encoding: the same OTLP request as the official encoder, cheaper.

Every equivalence test parses our bytes with the generated protobuf class and
compares the message with the official encoder's (``==``), and also checks
that the bytes are those the official message serializes to.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as official_encode_spans,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from services.common import otlp_encoding
from services.common.otlp_encoding import FastOTLPSpanExporter, encode_spans

KINDS = list(SpanKind)
SCALARS: list[Any] = [
    "",
    "plain",
    "ünïcødé ✓ 𝄞 中文",
    "x" * 700,
    True,
    False,
    0,
    1,
    -1,
    127,
    128,
    300,
    -300,
    2**31,
    -(2**31),
    2**62 + 12345,
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    1.5,
    -2.25,
    1e300,
    5e-324,
    math.inf,
    -math.inf,
    b"",
    b"\x00\xffbytes",
]
SEQUENCES: list[Any] = [
    [],
    ["a", "", "ü"],
    [True, False, True],
    [0, -1, 2**40, -(2**63), 2**63 - 1],
    [0.0, -1.5, 3.25],
    [b"\x01", b""],
]


def assert_equivalent(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """Our bytes parse to the official message and are its serialization."""
    ours = encode_spans(spans)
    official = official_encode_spans(spans)
    parsed = ExportTraceServiceRequest.FromString(ours)
    assert parsed == official
    assert ours == official.SerializeToString()
    return parsed


def remote_parent(rng: random.Random | None = None, trace_state: TraceState | None = None):
    """A context whose current span is a remote parent (as a propagator extracts it)."""
    rng = rng or random.Random(7)
    parent = SpanContext(
        trace_id=rng.getrandbits(128) or 1,
        span_id=rng.getrandbits(64) or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=trace_state,
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


class Recorder:
    """A tracer provider writing finished spans to memory."""

    def __init__(self, resource: Resource, limits: SpanLimits | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=resource, span_limits=limits)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def spans(self) -> list[ReadableSpan]:
        """The finished spans, in order."""
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def recorders() -> Iterator[list[Recorder]]:
    """Three providers: two with equal (but distinct) resources, one different."""
    attributes = {
        "service.name": "svc-a",
        "service.version": "1.2.3",
        "host.cpus": 2,
        "deploy.canary": False,
        "load.factor": 0.75,
        "regions": ["eu", "us"],
    }
    made = [
        Recorder(Resource(attributes, "https://opentelemetry.io/schemas/1.27.0")),
        Recorder(
            Resource({"service.name": "svc-b"}),
            SpanLimits(
                max_span_attributes=3,
                max_events=2,
                max_links=1,
                max_event_attributes=1,
                max_link_attributes=1,
            ),
        ),
        Recorder(Resource(dict(attributes), "https://opentelemetry.io/schemas/1.27.0")),
    ]
    yield made
    for recorder in made:
        recorder.provider.shutdown()


def every_attribute_type() -> dict[str, Any]:
    """One attribute per scalar and sequence test value, plus nested and mapping values."""
    attributes = {f"scalar.{i}": value for i, value in enumerate(SCALARS)}
    attributes.update({f"seq.{i}": value for i, value in enumerate(SEQUENCES)})
    attributes["mixed"] = ["a", 1, 2.5, True, b"b"]
    attributes["nested"] = [[1, 2], ["x"], []]
    attributes["mapping"] = {"a": 1, "b": ["c", "d"], "e": {"f": None}}
    attributes["none"] = None
    attributes[""] = "empty key"
    return attributes


def test_a_varied_batch_is_the_official_request(recorders: list[Recorder]) -> None:
    first, limited, twin = recorders
    plain = first.provider.get_tracer("plain.scope")
    versioned = first.provider.get_tracer(
        "versioned.scope",
        "4.5.6",
        schema_url="https://opentelemetry.io/schemas/1.26.0",
        attributes={"scope.attr": "x", "scope.count": 3},
    )
    other = limited.provider.get_tracer("limited.scope", "0.1")
    twin_tracer = twin.provider.get_tracer("plain.scope")

    trace_state = TraceState([("vendor", "value"), ("other", "1")])
    with plain.start_as_current_span(
        "GET /api/users/<user_id>",
        context=remote_parent(trace_state=trace_state),
        kind=SpanKind.SERVER,
        attributes=every_attribute_type(),
    ) as server:
        server.set_attribute("too.big", 2**64)
        server.set_attribute("too.small", -(2**63) - 1)
        server.add_event("no attributes")
        server.add_event(
            "exception",
            {"exception.type": "ValueError", "exception.escaped": False, "n": -7},
            timestamp=1_700_000_000_000_000_123,
        )
        with versioned.start_as_current_span("GET", kind=SpanKind.CLIENT) as client:
            client.set_attributes({"http.request.method": "GET", "server.port": 8081})
            client.set_status(Status(StatusCode.ERROR, "boom: connection refused"))
        with twin_tracer.start_as_current_span("auth.token_verify") as step:
            step.set_status(StatusCode.OK)
            step.set_attribute("enduser.id", "42")
        link_context = SpanContext(0xABC, 0xDEF, is_remote=True, trace_state=trace_state)
        local_link = server.get_span_context()
        with other.start_as_current_span(
            "",
            kind=SpanKind.PRODUCER,
            links=[
                Link(link_context, {"link.kind": "follows", "link.n": 1}),
                Link(local_link),
            ],
            attributes={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},
        ) as producer:
            for i in range(4):
                producer.add_event(f"event {i}", {"i": i, "j": -i})
            producer.set_status(Status(StatusCode.ERROR))
        with plain.start_as_current_span("consume", kind=SpanKind.CONSUMER) as consumer:
            consumer.set_status(Status(StatusCode.ERROR, ""))
    with other.start_as_current_span("root", context=context_api.Context()):
        pass

    batch = first.spans() + limited.spans() + twin.spans()
    # Interleave the resources and scopes so grouping has to follow first-seen order.
    batch = batch[::2] + batch[1::2]
    parsed = assert_equivalent(batch)
    assert [len(rs.scope_spans) for rs in parsed.resource_spans] == [2, 1]
    assert assert_equivalent(batch) == parsed  # the second time from the caches
    assert_equivalent(list(reversed(batch)))
    for span in batch:
        assert_equivalent([span])
    assert encode_spans([]) == b""


def test_dropped_counts_and_limits_are_encoded(recorders: list[Recorder]) -> None:
    limited = recorders[1]
    tracer = limited.provider.get_tracer("limits")
    with tracer.start_as_current_span(
        "crowded",
        links=[Link(SpanContext(1, 2, False), {"x": 1, "y": 2}), Link(SpanContext(3, 4, True))],
        attributes={f"k{i}": i for i in range(10)},
    ) as span:
        for i in range(5):
            span.add_event("e", {"p": i, "q": i})
    [finished] = limited.spans()
    assert finished.dropped_attributes and finished.dropped_events and finished.dropped_links
    parsed = assert_equivalent([finished])
    encoded = parsed.resource_spans[0].scope_spans[0].spans[0]
    assert encoded.dropped_attributes_count == 7
    assert encoded.events[0].dropped_attributes_count == 1


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 2 else 6)
    if choice == 0:
        return "".join(rng.choice("aé✓𝄞 /_-") for _ in range(rng.randrange(12)))
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        bits = rng.choice((6, 7, 8, 14, 15, 31, 32, 62, 63))
        return rng.randrange(-(2**bits), 2**bits)
    if choice == 3:
        return rng.uniform(-1e6, 1e6) * rng.choice((1, 1e-300, 1e300))
    if choice == 4:
        return rng.randbytes(rng.randrange(6))
    if choice == 5:
        return rng.choice(SCALARS)
    if choice == 6:
        kind = rng.randrange(5)
        return [
            _random_value(rng, depth + 1) if kind == 4 else rng.choice(SCALARS)
            for _ in range(rng.randrange(4))
        ]
    return {f"m{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(3))}


def _random_attributes(rng: random.Random) -> dict[str, Any]:
    keys = ["http.route", "server.port", "flag", "ratio", "payload", "list", "k"]
    return {
        rng.choice(keys) + str(rng.randrange(3)): _random_value(rng)
        for _ in range(rng.randrange(8))
    }


@pytest.mark.parametrize("seed", range(12))
def test_random_spans_are_the_official_request(recorders: list[Recorder], seed: int) -> None:
    rng = random.Random(seed)
    tracers = [
        recorder.provider.get_tracer(name, version)
        for recorder in recorders
        for name, version in (("a", None), ("b", "2.0"))
    ]
    for _ in range(25):
        tracer = rng.choice(tracers)
        parent_choice = rng.randrange(3)
        if parent_choice == 0:
            parent = context_api.Context()
        elif parent_choice == 1:
            state = TraceState([("t", str(rng.randrange(9)))]) if rng.random() < 0.5 else None
            parent = remote_parent(rng, state)
        else:
            parent = None  # the current context: nested under the previous span when open
        links = [
            Link(
                SpanContext(rng.getrandbits(128), rng.getrandbits(64), rng.random() < 0.5),
                _random_attributes(rng),
            )
            for _ in range(rng.randrange(3))
        ]
        with tracer.start_as_current_span(
            rng.choice(["GET", "POST /x", "", "db.query ✓"]),
            context=parent,
            kind=rng.choice(KINDS),
            attributes=_random_attributes(rng),
            links=links,
        ) as span:
            for _ in range(rng.randrange(3)):
                span.add_event(rng.choice(["", "ev"]), _random_attributes(rng))
            if rng.random() < 0.3:
                span.set_status(Status(StatusCode.ERROR, rng.choice([None, "", "bad ✗"])))
            elif rng.random() < 0.2:
                span.set_status(StatusCode.OK)
            if rng.random() < 0.5:
                with rng.choice(tracers).start_as_current_span("child") as child:
                    child.set_attributes(_random_attributes(rng))
    batch = [span for recorder in recorders for span in recorder.spans()]
    rng.shuffle(batch)
    assert_equivalent(batch)


def test_spans_read_through_the_public_api_are_encoded_the_same(recorders: list[Recorder]):
    # The SDK's live span objects are ReadableSpan subclasses: the encoder
    # reads them through the public properties instead of the stored fields.
    tracer = recorders[0].provider.get_tracer("live")
    live = []
    with tracer.start_as_current_span("outer", attributes={"a": [1, 2], "b": "x"}) as outer:
        outer.add_event("e", {"k": True})
        inner = tracer.start_span("inner", links=[Link(outer.get_span_context(), {"l": 1})])
        inner.end()
        live.extend([outer, inner])
    assert all(type(span) is not ReadableSpan for span in live)
    assert_equivalent(live)


def test_hand_made_readable_spans_are_the_official_request() -> None:
    context = SpanContext(2**128 - 1, 2**64 - 1, False)
    spans = [
        ReadableSpan(
            "bare",
            context=context,
            attributes={"plain": "dict", "n": 3},
            instrumentation_scope=None,
            status=None,  # type: ignore[arg-type]
            start_time=None,
            end_time=None,
        ),
        ReadableSpan(
            "only start",
            context=context,
            parent=SpanContext(5, 6, False),
            resource=Resource({"r": 1}),
            instrumentation_scope=InstrumentationScope("s", None, None, {"a": [1.5]}),
            start_time=10,
            kind=SpanKind.CONSUMER,
        ),
    ]
    assert_equivalent(spans)


def test_nan_attribute_bytes_match() -> None:
    # NaN never equals itself, so here only the bytes can be compared.
    span = ReadableSpan(
        "nan",
        context=SpanContext(1, 2, False),
        attributes={"nan": math.nan, "nans": (math.nan, 1.0)},
        start_time=1,
        end_time=2,
    )
    assert encode_spans([span]) == official_encode_spans([span]).SerializeToString()


def test_unencodable_attributes_are_logged_and_left_out_like_the_official(
    caplog: pytest.LogCaptureFixture,
) -> None:
    span = ReadableSpan(
        "odd",
        context=SpanContext(1, 2, False),
        attributes={"ok": 1, "huge": 2**70, "in.list": [1, 2**64], "obj": object(), 3: "key"},
        start_time=1,
        end_time=2,
    )
    with caplog.at_level(logging.ERROR, logger=otlp_encoding.__name__):
        parsed = assert_equivalent([span])
    [encoded] = parsed.resource_spans[0].scope_spans[0].spans
    assert [kv.key for kv in encoded.attributes] == ["ok"]
    logged = [r for r in caplog.records if r.name == otlp_encoding.__name__]
    assert len(logged) == 4


def test_the_attribute_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_encoding, "CACHE_MAX_ENTRIES", 64)
    context = SpanContext(1, 2, False)
    spans = [
        ReadableSpan(
            f"span {i % 80}",
            context=context,
            attributes={"id": i, "name": f"user-{i}", "big": "y" * 600, "same": "v"},
            start_time=1,
            end_time=2,
        )
        for i in range(500)
    ]
    for start in range(0, len(spans), 50):
        assert_equivalent(spans[start : start + 50])
        assert len(otlp_encoding._CACHE) <= 64
    assert not any("y" * 600 in key for key in otlp_encoding._CACHE if isinstance(key, tuple))

    monkeypatch.setattr(otlp_encoding, "CACHE_MAX_ENTRIES", 4096)
    many = [
        ReadableSpan(
            "many",
            context=context,
            attributes={f"k{j}": f"{i}-{j}" for j in range(20)},
            start_time=1,
            end_time=2,
        )
        for i in range(300)
    ]
    assert_equivalent(many)
    assert 0 < len(otlp_encoding._CACHE) <= 4096


class _Collector(BaseHTTPRequestHandler):
    """Records each POST and answers with the server's configured status."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        server: Any = self.server
        message = ExportTraceServiceRequest.FromString(body)
        server.requests.append((self.path, self.headers.get("Content-Type"), message))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(server.status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def collector() -> Iterator[Any]:
    """A local OTLP/HTTP endpoint in a thread; ``.endpoint``, ``.requests``, ``.status``."""
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.requests = []
    server.status = 200
    server.endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _some_spans(recorders: list[Recorder]) -> list[ReadableSpan]:
    tracer = recorders[0].provider.get_tracer("exporter.test", "1.0")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.response.status_code", 200)
        with tracer.start_as_current_span("child"):
            pass
    return recorders[0].spans()


def test_the_exporter_posts_the_official_request(collector: Any, recorders: list[Recorder]):
    spans = _some_spans(recorders)
    exporter = FastOTLPSpanExporter(endpoint=collector.endpoint)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    [(path, content_type, received)] = collector.requests
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert received == official_encode_spans(spans)
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(collector.requests) == 1


def test_the_exporter_fails_like_the_official_one(collector: Any, recorders: list[Recorder]):
    spans = _some_spans(recorders)
    collector.status = 400  # not retryable
    exporter = FastOTLPSpanExporter(endpoint=collector.endpoint)
    assert exporter.export(spans) is SpanExportResult.FAILURE
    assert len(collector.requests) == 1
    tiny = FastOTLPSpanExporter(endpoint=collector.endpoint, max_request_size=10)
    assert tiny.export(spans) is SpanExportResult.FAILURE
    assert len(collector.requests) == 1
    exporter.shutdown()
    tiny.shutdown()
