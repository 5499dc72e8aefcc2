"""Trace and span id normalisation: every id becomes lowercase, zero-padded hex.

Backends spell ids differently: Jaeger's v1 API prints hex and drops the
leading zeros of a trace id's high half, Jaeger's OTLP JSON (``/api/v3``)
uses full hex, Grafana Tempo's OTLP JSON uses base64 of the raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

TRACE_ID_HEX_LEN = 32
SPAN_ID_HEX_LEN = 16

_HEX = re.compile(r"^[0-9a-fA-F]+$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def _hex_len(what: str) -> int:
    return TRACE_ID_HEX_LEN if what == "trace" else SPAN_ID_HEX_LEN


def _is_zero(hex_id: str) -> bool:
    return not hex_id.strip("0")


def hex_id(value: str | None, what: str = "trace") -> str | None:
    """Normalise a hex id (possibly missing leading zeros); None for empty or all-zero ids."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    width = _hex_len(what)
    if not _HEX.match(text) or len(text) > width:
        raise ValueError(f"{what} id {value!r} is not hex of at most {width} digits")
    text = text.lower().rjust(width, "0")
    return None if _is_zero(text) else text


def _from_base64(text: str, width: int) -> str | None:
    if not _BASE64.match(text):
        return None
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if ("-" in text or "_" in text) else None)
    except (binascii.Error, ValueError):
        return None
    if not raw or len(raw) * 2 > width:
        return None
    return raw.hex().rjust(width, "0")


def any_id(value: str | None, what: str = "trace") -> str | None:
    """Normalise an id that may be hex or base64 (OTLP JSON from Jaeger or Tempo).

    Full-width hex (32 digits for a trace, 16 for a span) is taken as hex;
    anything else is decoded as base64 of at most 16 (8) bytes. The two never
    collide: base64 of 16 bytes is 24 characters (22 unpadded), of 8 bytes 12
    (11 unpadded). None for empty or all-zero ids.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    width = _hex_len(what)
    if len(text) == width and _HEX.match(text):
        result = text.lower()
    else:
        decoded = _from_base64(text, width)
        if decoded is None:
            if _HEX.match(text) and len(text) < width:
                decoded = text.lower().rjust(width, "0")
            else:
                raise ValueError(f"{what} id {value!r} is neither hex nor base64")
        result = decoded
    return None if _is_zero(result) else result


def normalise_trace_id(value: str) -> str:
    """A trace id typed by a person: hex, any case, surrounding blanks allowed."""
    result = hex_id(value, "trace")
    if result is None:
        raise ValueError(f"trace id {value!r} is empty or all zeros")
    return result
