import pytest

from services.common.errors import ApiError
from services.common.validation import parse_json_object, parse_positive_int, require_fields


def _status(call) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def test_parses_a_json_object():
    assert parse_json_object(b'{"a": 1}', "application/json; charset=utf-8", 100) == {"a": 1}


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{", "application/json", 400, "malformed_json"),
        (b"[1, 2]", "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        (b'{"a": 1}', "text/plain", 415, "unsupported_media_type"),
        (b'{"a": 1}', None, 415, "unsupported_media_type"),
        (b'{"a": "' + b"x" * 200 + b'"}', "application/json", 413, "payload_too_large"),
    ],
)
def test_unusable_bodies(raw, content_type, status, code):
    error = _status(lambda: parse_json_object(raw, content_type, 100))
    assert (error.status, error.code) == (status, code)
    assert error.body()["error"]["message"]


def test_required_fields_report_every_problem():
    error = _status(
        lambda: require_fields(
            {"email": 3, "password": "", "extra": 1},
            {"email": str, "password": str, "name": str},
        )
    )
    assert error.status == 422
    problems = {p["field"]: p["problem"] for p in error.details}
    assert problems == {
        "email": "must be of type str",
        "password": "must not be empty",
        "name": "is required",
    }


def test_bool_is_not_an_int():
    error = _status(lambda: require_fields({"n": True}, {"n": int}))
    assert error.status == 422


def test_required_fields_returns_only_the_named_ones():
    assert require_fields({"a": "x", "b": "y"}, {"a": str}) == {"a": "x"}


@pytest.mark.parametrize("raw", ["abc", "0", "-4", "1.5", "99999999999", ""])
def test_positive_int_rejects(raw):
    assert _status(lambda: parse_positive_int(raw, "user id")).status == 400


def test_positive_int_accepts():
    assert parse_positive_int("42", "user id") == 42
