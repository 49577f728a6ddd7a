"""The API's orjson renderer writes what DRF's JSONRenderer writes."""

import datetime as dt
import decimal
import json
import uuid
import zoneinfo

from django.utils.translation import gettext_lazy

import pytest
from rest_framework import renderers

from project import renderers as fast_renderers
from project.renderers import JSONRenderer
from project.tests.checked_renderer import CheckedJSONRenderer, RendererDrift

UTC_NOON = dt.datetime(2026, 12, 4, 12, 0, 0, tzinfo=dt.UTC)

# Values the API's answers carry, and the awkward ones: each must come out in
# the same bytes as DRF's standard-library encoding.
SAME_BYTES = {
    "utc date-time": UTC_NOON,
    "utc date-time with microseconds": UTC_NOON.replace(microsecond=9),
    "zoneinfo utc": UTC_NOON.astimezone(zoneinfo.ZoneInfo("UTC")),
    "other offset": UTC_NOON.astimezone(dt.timezone(dt.timedelta(hours=-3))),
    "naive date-time": dt.datetime(2026, 1, 1, 0, 0),  # noqa: DTZ001 - on purpose
    "date": dt.date(2026, 1, 2),
    "time": dt.time(1, 2, 3),
    "uuid": uuid.UUID("0b5c7a52-2f3e-4c55-9d63-1b0e0f6f4a10"),
    "decimal": decimal.Decimal("1.10"),
    "lazy translation": gettext_lazy("Not found."),
    "timedelta": dt.timedelta(seconds=3),
    "bytes": b"raw",
    "unicode, controls, separators": 'é\u2028x\u2029\x00\x1f\x7f"\\/<>&\U0001f600',
    "rank": 0.060793,
    "floats": [1.0, 0.1, -0.0, 1e16, 1e300, 123456.789],
    "64-bit ints": [2**63 - 1, -(2**63)],
    "nested": {"x": {"y": [None, True, False, (1, 2)]}, "": [], "e": {}},
    "int keys": {1: "a", 2: "b"},
}


@pytest.mark.parametrize("value", SAME_BYTES.values(), ids=SAME_BYTES.keys())
def test_writes_drf_bytes(value):
    data = {"value": value, "list": [value, value]}
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_small_floats_keep_their_value_in_another_spelling():
    data = {"rank": [1e-05, 5e-06]}
    fast = JSONRenderer().render(data)
    assert fast == b'{"rank":[0.00001,5e-6]}'
    assert json.loads(fast) == json.loads(renderers.JSONRenderer().render(data))


def test_none_renders_nothing():
    assert JSONRenderer().render(None) == b""


def test_indent_asked_for_goes_through_drf():
    data = {"a": [1, {"b": "c"}]}
    media_type = "application/json; indent=4"
    assert JSONRenderer().render(data, media_type) == renderers.JSONRenderer().render(
        data, media_type
    )
    assert b"\n    " in JSONRenderer().render(data, media_type)


def test_integers_past_64_bits_go_through_drf():
    data = {"big": 2**64}
    assert JSONRenderer().render(data) == b'{"big":18446744073709551616}'


def test_nesting_past_orjsons_limit_goes_through_drf():
    data: list = []
    for _ in range(300):
        data = [data]
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_checked_renderer_fails_on_another_value(monkeypatch):
    monkeypatch.setattr(
        fast_renderers.orjson, "dumps", lambda *args, **kwargs: b'{"a":2}'
    )
    with pytest.raises(RendererDrift):
        CheckedJSONRenderer().render({"a": 1})


def test_suite_renders_api_answers_through_the_checked_renderer(client):
    response = client.get("/api/v1/documents/")
    assert isinstance(response.accepted_renderer, CheckedJSONRenderer)
