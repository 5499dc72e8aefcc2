"""OTLP trace export requests written straight to protobuf wire format.

The OTLP/HTTP exporter of opentelemetry-python builds a protobuf message
object for every span, attribute and value, then serializes the tree; at
~23 µs per span that is most of what a sampled span costs a service.
:func:`encode_spans` writes the bytes of the same ``ExportTraceServiceRequest``
directly (field numbers from opentelemetry/proto/trace/v1/trace.proto,
common/v1/common.proto and resource/v1/resource.proto) and reuses the encoded
bytes of attribute pairs, span names, statuses, resources and scopes that
repeat from span to span. It encodes what
``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans``
encodes, with the same grouping, defaults and dropped-attribute behaviour;
the unit tests parse both and compare the messages.

:class:`FastOTLPSpanExporter` is the stock OTLP/HTTP span exporter sending
these bytes.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as stock_encode_spans,
)
from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import SpanKind

from services.common import otlp_transport
from services.common.encoder_guard import DRIFT_ERRORS, GuardedEncoder

_logger = logging.getLogger(__name__)
# Export failures are logged under the stock exporter's logger name, so log
# configuration written for it keeps applying.
_export_logger = logging.getLogger(OTLPSpanExporter.__module__)

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_UINT64_MASK = (1 << 64) - 1

# Span.SpanKind values of trace.proto, indexed by the API enum's value; an
# Enum's own hash is a Python-level call, so the map is keyed by ``_value_``.
_SPAN_KIND = {
    SpanKind.INTERNAL._value_: 1,
    SpanKind.SERVER._value_: 2,
    SpanKind.CLIENT._value_: 3,
    SpanKind.PRODUCER._value_: 4,
    SpanKind.CONSUMER._value_: 5,
}
# SpanFlags: CONTEXT_HAS_IS_REMOTE is always set, CONTEXT_IS_REMOTE too for a
# remote parent (the official encoder leaves the W3C trace flags bits out).
_FLAGS_LOCAL = 0x100
_FLAGS_REMOTE = 0x300
# Span.flags is field 16, fixed32, so its tag takes two bytes.
_FLAGS_LOCAL_FIELD = b"\x85\x01" + _FLAGS_LOCAL.to_bytes(4, "little")
_FLAGS_REMOTE_FIELD = b"\x85\x01" + _FLAGS_REMOTE.to_bytes(4, "little")

# Span fields kind (6, varint), start_time_unix_nano (7, fixed64) and
# end_time_unix_nano (8, fixed64) in one pack.
_KIND_TIMES = struct.Struct("<BBBQBQ")
_TAG_FIXED64 = struct.Struct("<BQ")
_TAG_FIXED32 = struct.Struct("<BI")
_TAG_DOUBLE = struct.Struct("<Bd")
_SPAN_ID = struct.Struct(">BBQ")

_VARINT_1 = tuple(bytes((i,)) for i in range(0x80))

# Encoded attribute pairs, span names and the like, keyed so that values
# equal in Python but different on the wire (True and 1) never share a key.
# Cleared when full: simpler and cheaper than LRU, and a clear only costs one
# re-encoding of each pair still in use.
_CACHE: dict[Any, bytes] = {}
CACHE_MAX_ENTRIES = 4096
# Long values are rarely repeated; keeping them out bounds the cache's memory.
CACHE_MAX_ENTRY_BYTES = 512
# Encoded Resource and InstrumentationScope fields by id(); the entry keeps
# the object alive so the id is not reused while cached.
_OBJECT_CACHE: dict[int, tuple[object, bytes]] = {}
OBJECT_CACHE_MAX_ENTRIES = 256


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _VARINT_1[value]
    if value < 0x4000:
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: bytes, body: bytes) -> bytes:
    return tag + _varint(len(body)) + body


def _any_value(value: Any) -> bytes:
    """The body of an AnyValue, with the type tests in the official encoder's order."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _length_delimited(b"\x0a", value.encode("utf-8"))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"Value out of range: {value}")
        return b"\x18" + _varint(value & _UINT64_MASK)
    if isinstance(value, float):
        return _TAG_DOUBLE.pack(0x21, value)
    if isinstance(value, bytes):
        return _length_delimited(b"\x3a", value)
    if isinstance(value, Sequence):
        items = b"".join([_length_delimited(b"\x0a", _any_value(v)) for v in value])
        return _length_delimited(b"\x2a", items)
    if isinstance(value, Mapping):
        pairs = b"".join(
            [_length_delimited(b"\x0a", _key_value(str(k), v)) for k, v in value.items()]
        )
        return _length_delimited(b"\x32", pairs)
    raise TypeError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    """The body of a KeyValue."""
    if not isinstance(key, str):
        raise TypeError(f"attribute key {key!r} is not a str")
    body = _length_delimited(b"\x12", _any_value(value))
    if key:
        return _length_delimited(b"\x0a", key.encode("utf-8")) + body
    return body


def _attribute_fields(attributes: Any, tag: bytes, out: list[bytes]) -> None:
    """Append one ``tag`` KeyValue field per attribute, skipping (and logging) bad ones."""
    if not attributes:
        return
    for key, value in attributes.items():
        try:
            out.append(_length_delimited(tag, _key_value(key, value)))
        except Exception as error:
            _logger.exception("Failed to encode key %s: %s", key, error)


def _cached_attribute_field(key: Any, value: Any, cache_key: Any) -> bytes | None:
    """The Span.attributes field (9) of one pair, cached; None when it cannot be encoded."""
    try:
        field = _length_delimited(b"\x4a", _key_value(key, value))
    except Exception as error:
        _logger.exception("Failed to encode key %s: %s", key, error)
        return None
    _cache_put(cache_key, field)
    return field


def _cache_put(cache_key: Any, encoded: bytes) -> None:
    if len(encoded) <= CACHE_MAX_ENTRY_BYTES:
        if len(_CACHE) >= CACHE_MAX_ENTRIES:
            _CACHE.clear()
        _CACHE[cache_key] = encoded


def _name_field(name: str) -> bytes:
    """The Span.name field (5), cached."""
    field = _CACHE.get(name)
    if field is None:
        field = _length_delimited(b"\x2a", name.encode("utf-8"))
        _cache_put(name, field)
    return field


def _trace_state_field(trace_state: Any) -> bytes:
    """The Span.trace_state field (3), or nothing for an empty trace state."""
    if trace_state is None:
        return b""
    text = ",".join([f"{key}={value}" for key, value in trace_state.items()])
    if not text:
        return b""
    return _length_delimited(b"\x1a", text.encode("utf-8"))


def _status_field(status: Any) -> bytes:
    """The Span.status field (15); the official encoder always sends one."""
    if status is None:
        return b""
    body = b""
    if status.description:
        body = _length_delimited(b"\x12", status.description.encode("utf-8"))
    code = status.status_code.value
    if code:
        body += b"\x18" + _varint(code)
    return _length_delimited(b"\x7a", body)


def _status_and_flags_fields(status: Any) -> tuple[bytes, bytes]:
    """Span.status (15) then Span.flags (16), for a local and for a remote parent."""
    status_field = _status_field(status)
    return status_field + _FLAGS_LOCAL_FIELD, status_field + _FLAGS_REMOTE_FIELD


def _event_fields(events: Sequence[Any], out: list[bytes]) -> None:
    """Append the Span.events fields (11)."""
    for event in events:
        body: list[bytes] = []
        if event.timestamp:
            body.append(_TAG_FIXED64.pack(0x09, event.timestamp))
        if event.name:
            body.append(_length_delimited(b"\x12", event.name.encode("utf-8")))
        _attribute_fields(event.attributes, b"\x1a", body)
        if event.dropped_attributes:
            body.append(b"\x20" + _varint(event.dropped_attributes))
        out.append(_length_delimited(b"\x5a", b"".join(body)))


def _link_fields(links: Sequence[Any], out: list[bytes]) -> None:
    """Append the Span.links fields (13); like the official encoder, without trace_state."""
    for link in links:
        context = link.context
        body = [
            b"\x0a\x10",
            context.trace_id.to_bytes(16, "big"),
            _SPAN_ID.pack(0x12, 0x08, context.span_id),
        ]
        _attribute_fields(link.attributes, b"\x22", body)
        if link.dropped_attributes:
            body.append(b"\x28" + _varint(link.dropped_attributes))
        flags = _FLAGS_REMOTE if context.is_remote else _FLAGS_LOCAL
        body.append(_TAG_FIXED32.pack(0x35, flags))
        out.append(_length_delimited(b"\x6a", b"".join(body)))


def _cached_object_field(obj: Any, encode: Any) -> bytes:
    entry = _OBJECT_CACHE.get(id(obj))
    if entry is not None and entry[0] is obj:
        return entry[1]
    field = encode(obj)
    if len(_OBJECT_CACHE) >= OBJECT_CACHE_MAX_ENTRIES:
        _OBJECT_CACHE.clear()
    _OBJECT_CACHE[id(obj)] = (obj, field)
    return field


def _resource_field(resource: Any) -> bytes:
    """The ResourceSpans.resource field (1)."""
    body: list[bytes] = []
    _attribute_fields(resource.attributes, b"\x0a", body)
    return _length_delimited(b"\x0a", b"".join(body))


def _scope_field(scope: Any) -> bytes:
    """The ScopeSpans.scope field (1); an empty scope message when there is none."""
    body: list[bytes] = []
    if scope is not None:
        if scope.name:
            body.append(_length_delimited(b"\x0a", scope.name.encode("utf-8")))
        if scope.version:
            body.append(_length_delimited(b"\x12", scope.version.encode("utf-8")))
        _attribute_fields(scope.attributes, b"\x1a", body)
    return _length_delimited(b"\x0a", b"".join(body))


def _schema_url_field(schema_url: str | None) -> bytes:
    """The ResourceSpans/ScopeSpans.schema_url field (3)."""
    if not schema_url:
        return b""
    return _length_delimited(b"\x1a", schema_url.encode("utf-8"))


def _stored_items(values: Any, span: ReadableSpan, dropped_property: str) -> tuple[Any, int]:
    """A span's events or links without the copy its property makes, and their dropped count."""
    if type(values) is BoundedList:
        return values._dq, values.dropped
    return values, getattr(span, dropped_property)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """Serialize ``spans`` as an OTLP ``ExportTraceServiceRequest``.

    The bytes parse to the message that the official
    ``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans``
    builds: spans grouped by resource, then by instrumentation scope, each in
    first-seen order. An attribute that cannot be encoded (a value type OTLP
    has no field for, an int outside int64) is logged and left out, as the
    official encoder does; anything wrong with a span itself raises.
    """
    cache = _CACHE
    cache_get = cache.get
    kind_of = _SPAN_KIND
    pack_kind_times = _KIND_TIMES.pack
    pack_span_id = _SPAN_ID.pack
    varint_1 = _VARINT_1

    # resource -> scope -> [scope field, span fields...]; Resource and scope
    # equality decide the groups, as in the official encoder, but are only
    # consulted when a span's resource or scope object differs from the last.
    groups: dict[Any, dict[Any, list[bytes]]] = {}
    group_by_ids: dict[tuple[int, int], list[bytes]] = {}
    last_resource: Any = None
    last_scope: Any = None
    group: list[bytes] = []
    last_trace_state: Any = None
    trace_state_field = b""
    last_status: Any = None
    local_tail, remote_tail = _status_and_flags_fields(None)

    for span in spans:
        if type(span) is ReadableSpan:
            # The SDK's own snapshot: its properties copy events, links and
            # attributes on every access, the stored values are read-only.
            context = span._context
            parent = span._parent
            name = span._name
            kind = span._kind
            start_time = span._start_time
            end_time = span._end_time
            attributes = span._attributes
            events = span._events
            links = span._links
            status = span._status
            resource = span._resource
            scope = span._instrumentation_scope
            if type(attributes) is BoundedAttributes:
                dropped_attributes = attributes.dropped
                attributes = attributes._dict
            else:
                dropped_attributes = span.dropped_attributes
            events, dropped_events = _stored_items(events, span, "dropped_events")
            links, dropped_links = _stored_items(links, span, "dropped_links")
        else:
            context = span.get_span_context()
            parent = span.parent
            name = span.name
            kind = span.kind
            start_time = span.start_time
            end_time = span.end_time
            attributes = span.attributes
            events = span.events
            links = span.links
            status = span.status
            resource = span.resource
            scope = span.instrumentation_scope
            dropped_attributes = span.dropped_attributes
            dropped_events = span.dropped_events
            dropped_links = span.dropped_links

        if resource is not last_resource or scope is not last_scope:
            ids = (id(resource), id(scope))
            found = group_by_ids.get(ids)
            if found is None:
                scopes = groups.get(resource)
                if scopes is None:
                    scopes = groups[resource] = {}
                found = scopes.get(scope)
                if found is None:
                    found = scopes[scope] = [
                        _cached_object_field(scope, _scope_field)
                        if scope is not None
                        else _scope_field(None)
                    ]
                group_by_ids[ids] = found
            group = found
            last_resource = resource
            last_scope = scope

        # SpanContext is a (trace_id, span_id, is_remote, trace_flags,
        # trace_state, is_valid) tuple; unpacking skips five property calls.
        trace_id, span_id, _, _, trace_state, _ = context
        parts = [b"\x0a\x10", trace_id.to_bytes(16, "big"), pack_span_id(0x12, 0x08, span_id)]
        if trace_state is not last_trace_state:
            last_trace_state = trace_state
            trace_state_field = _trace_state_field(trace_state)
        if trace_state_field:
            parts.append(trace_state_field)
        if parent is not None:
            parts.append(pack_span_id(0x22, 0x08, parent[1]))
        if name:
            field = cache_get(name)
            parts.append(field if field is not None else _name_field(name))
        kind_value = kind_of[kind._value_]
        if start_time and end_time:
            parts.append(pack_kind_times(0x30, kind_value, 0x39, start_time, 0x41, end_time))
        else:
            parts.append(b"\x30" + varint_1[kind_value])
            if start_time:
                parts.append(_TAG_FIXED64.pack(0x39, start_time))
            if end_time:
                parts.append(_TAG_FIXED64.pack(0x41, end_time))

        if attributes:
            for key, value in attributes.items():
                value_type = type(value)
                if value_type is str:
                    cache_key: Any = (key, value)
                elif value_type is int or value_type is bool:
                    cache_key = (key, value, value_type)
                else:
                    try:
                        parts.append(_length_delimited(b"\x4a", _key_value(key, value)))
                    except Exception as error:
                        _logger.exception("Failed to encode key %s: %s", key, error)
                    continue
                field = cache_get(cache_key)
                if field is None:
                    field = _cached_attribute_field(key, value, cache_key)
                    if field is None:
                        continue
                parts.append(field)
        if dropped_attributes:
            parts.append(b"\x50" + _varint(dropped_attributes))
        if events:
            _event_fields(events, parts)
        if dropped_events:
            parts.append(b"\x60" + _varint(dropped_events))
        if links:
            _link_fields(links, parts)
        if dropped_links:
            parts.append(b"\x70" + _varint(dropped_links))
        if status is not last_status:
            last_status = status
            local_tail, remote_tail = _status_and_flags_fields(status)
        parts.append(remote_tail if parent is not None and parent[2] else local_tail)

        body = b"".join(parts)
        size = len(body)
        group.append(b"\x12" + (varint_1[size] if size < 0x80 else _varint(size)))
        group.append(body)

    return _resource_groups(groups)


def _resource_groups(groups: dict[Any, dict[Any, list[bytes]]]) -> bytes:
    """The request body around encoded items grouped by resource, then scope.

    Each scope's list starts with its scope field and holds its items' fields
    (spans or log records: both requests frame them alike, field 1 of the
    request, field 2 of the resource message).
    """
    out: list[bytes] = []
    for resource, scopes in groups.items():
        resource_items = [_cached_object_field(resource, _resource_field)]
        for scope, scope_group in scopes.items():
            scope_group.append(_schema_url_field(scope.schema_url if scope else None))
            resource_items.append(_length_delimited(b"\x12", b"".join(scope_group)))
        resource_items.append(_schema_url_field(resource.schema_url))
        out.append(_length_delimited(b"\x0a", b"".join(resource_items)))
    return b"".join(out)


class _StockParts(NamedTuple):
    """What the stock OTLP/HTTP exporters' ``export`` reads of themselves."""

    shutdown: bool
    metrics: Any
    max_request_size: Any
    client: Any

    @classmethod
    def of(cls, exporter: Any) -> _StockParts:
        """Read them all at once, so a renamed one fails before anything is sent."""
        return cls(
            exporter._shutdown, exporter._metrics, exporter._max_request_size, exporter._client
        )


def export_guarded(
    exporter: Any,
    batch: Sequence[Any],
    encoder: GuardedEncoder,
    results: Any,
    what: str,
    log: logging.Logger,
    stock_export: Callable[[Sequence[Any]], Any],
) -> Any:
    """Export ``batch`` as the stock OTLP/HTTP exporter does, with ``encoder`` building the body.

    ``exporter`` is a stock OTLP/HTTP span or log exporter (its client,
    metrics, size limit and shutdown flag are used as they are), ``results``
    its result enum, ``what`` the batch's name in its messages ("span",
    "logs"), ``log`` the stock exporter's logger and ``stock_export`` its own
    ``export``, which runs instead when the encoder is off (an untested SDK,
    services.common.encoder_guard) or the exporter's fields are not where
    they were.
    """
    if encoder.active:
        try:
            stock = _StockParts.of(exporter)
        except DRIFT_ERRORS as error:
            encoder.disable(error)
        else:
            return _export_encoded(stock, batch, encoder, results, what, log)
    return stock_export(batch)


def _export_encoded(
    exporter: _StockParts,
    batch: Sequence[Any],
    encode: Callable[[Sequence[Any]], bytes],
    results: Any,
    what: str,
    log: logging.Logger,
) -> Any:
    """What the stock exporters' ``export`` does, with ``encode`` building the body."""
    if exporter.shutdown:
        log.warning("Exporter already shutdown, ignoring batch")
        return results.FAILURE

    with exporter.metrics.export_operation(len(batch)) as result:
        try:
            serialized_data = encode(batch)
        except Exception as error:
            log.error("Failed to encode %s batch: %s", what, error)
            result.error = error
            return results.FAILURE

        if _is_request_too_large(serialized_data, exporter.max_request_size):
            log.warning(
                "Dropping %s batch: serialized size %d bytes exceeds max_request_size %d bytes.",
                what,
                len(serialized_data),
                exporter.max_request_size,
            )
            result.error = RequestPayloadTooLargeError(
                f"Serialized {what} request size {len(serialized_data)} "
                f"bytes exceeds max_request_size "
                f"{exporter.max_request_size} bytes."
            )
            return results.FAILURE

        export_result = exporter.client.export(serialized_data)
        if not export_result.success:
            result.error = export_result.error
            result.error_attrs = (
                {HTTP_RESPONSE_STATUS_CODE: export_result.status_code}
                if export_result.status_code is not None
                else None
            )
            return results.FAILURE
    return results.SUCCESS


def _stock_encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    return stock_encode_spans(spans).SerializePartialToString()


class FastOTLPSpanExporter(OTLPSpanExporter):
    """The OTLP/HTTP span exporter, encoding with :func:`encode_spans`.

    Configuration, retries, compression, metrics and shutdown are the stock
    exporter's; the request body is built differently, and it is sent over
    services.common.otlp_transport's kept-alive connection. It is
    the ``tracelab`` entry point of ``opentelemetry_traces_exporter``
    (``OTEL_TRACES_EXPORTER=tracelab``). On an SDK version it was not tested
    with, or once the direct encoder fails on a changed private field, it
    exports as the stock exporter (services.common.encoder_guard).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(
            *args,
            **otlp_transport.exporter_kwargs(
                OTLPSpanExporter.__init__, otlp_transport.TRACES, args, kwargs
            ),
        )
        self._encoder = GuardedEncoder("span", encode_spans, _stock_encode_spans)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode ``spans`` and POST them, exactly as ``OTLPSpanExporter.export`` does."""
        return export_guarded(
            self, spans, self._encoder, SpanExportResult, "span", _export_logger, super().export
        )
