"""Id normalisation: hex (possibly without leading zeros) and base64."""

from __future__ import annotations

import pytest

from tracelab.shapes.ids import any_id, hex_id, normalise_trace_id


@pytest.mark.parametrize(
    ("raw", "what", "expected"),
    [
        ("4BF92F3577B34DA6A3CE929D0E0E4736", "trace", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("S/kvNXezTaajzpKdDg5HNg==", "trace", "4bf92f3577b34da6a3ce929d0e0e4736"),
        (
            "S_kvNXezTaajzpKdDg5HNg",
            "trace",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),  # url-safe, unpadded
        ("00f067aa0ba902b7", "span", "00f067aa0ba902b7"),
        ("APBnqgupArc=", "span", "00f067aa0ba902b7"),
        ("APBnqgupArc", "span", "00f067aa0ba902b7"),
        ("AAAAAAAAAAABI0VniavN7w==", "trace", "00000000000000000123456789abcdef"),
        ("", "span", None),
        (None, "span", None),
        ("AAAAAAAAAAA=", "span", None),  # all-zero: no parent
    ],
)
def test_any_id(raw, what, expected):
    assert any_id(raw, what) == expected


def test_base64_with_only_hex_letters_is_still_base64():
    # 11 characters that happen to be hex digits: unpadded base64 of 8 bytes.
    assert any_id("abcdef12345", "span") == "69b71d79fd76df8e"


def test_any_id_rejects_garbage():
    with pytest.raises(ValueError, match="neither hex nor base64"):
        any_id("not an id!", "trace")


def test_hex_id_pads_jaeger_v1_short_ids():
    assert hex_id("123456789abcdef") == "00000000000000000123456789abcdef"
    assert hex_id("0") is None
    with pytest.raises(ValueError, match="at most 32"):
        hex_id("1" * 33)


def test_normalise_trace_id():
    assert (
        normalise_trace_id("  4BF92F3577B34DA6A3CE929D0E0E4736\n")
        == "4bf92f3577b34da6a3ce929d0e0e4736"
    )
    with pytest.raises(ValueError, match="empty or all zeros"):
        normalise_trace_id("0" * 32)
