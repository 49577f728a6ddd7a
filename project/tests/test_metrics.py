"""CloudWatch Embedded Metric Format records on stdout."""

import json

import pytest

from project import metrics

pytestmark = pytest.mark.django_db


def _emf_records(text: str) -> list[dict]:
    records = []
    for line in text.splitlines():
        document = json.loads(line)
        if "_aws" in document:
            records.append(document)
    return records


def _assert_valid_emf(document: dict) -> None:
    """Check ``document`` against the EMF specification's rules."""
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int)
    assert aws["CloudWatchMetrics"]
    for directive in aws["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(document[name], str)
        assert 0 < len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert metric["Unit"] in metrics.UNITS
            assert isinstance(document[metric["Name"]], int | float)


def test_record_enabled_writes_one_emf_line(settings, capsys):
    """record() writes one valid EMF record with namespace, dimensions and value."""
    settings.METRICS_ENABLED = True
    settings.METRICS_NAMESPACE = "QuireTest"
    metrics.record(
        "AiTokens",
        42,
        unit="Count",
        dimensions={"Model": "mock"},
        properties={"request_id": "r1"},
    )
    (document,) = _emf_records(capsys.readouterr().out)
    _assert_valid_emf(document)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "QuireTest"
    assert directive["Dimensions"] == [["Model"]]
    assert directive["Metrics"] == [{"Name": "AiTokens", "Unit": "Count"}]
    assert document["AiTokens"] == 42
    assert document["Model"] == "mock"
    assert document["request_id"] == "r1"


def test_record_disabled_writes_nothing(settings, capsys):
    """With METRICS_ENABLED off, record() writes nothing."""
    settings.METRICS_ENABLED = False
    metrics.record("AiTokens", 1, unit="Count")
    assert capsys.readouterr().out == ""


def test_record_unknown_unit_sent_as_none(settings, capsys):
    """A unit CloudWatch does not know is sent as "None" rather than rejected."""
    settings.METRICS_ENABLED = True
    metrics.record("Thing", 1.5, unit="Widgets")
    (document,) = _emf_records(capsys.readouterr().out)
    assert document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "None"


def test_request_metrics_latency_and_status_by_route(settings, api_client, capsys):
    """Each request emits latency and 5xx metrics with only its route as dimension."""
    settings.METRICS_ENABLED = True
    response = api_client.get("/healthz")
    assert response.status_code == 200
    (document,) = _emf_records(capsys.readouterr().out)
    _assert_valid_emf(document)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Route"]]
    # No Errors5xx series for a request that did not fail.
    assert [m["Name"] for m in directive["Metrics"]] == ["RequestLatency"]
    assert document["Route"] == "/healthz"
    # Searchable in Logs Insights, but no metric series of their own.
    assert document["status_class"] == "2xx"
    assert document["method"] == "GET"
    assert document["status"] == 200
    assert document["RequestLatency"] >= 0


def test_request_metrics_server_error_adds_the_5xx_count(settings, capsys):
    """A 5xx answer records Errors5xx next to the latency, by route only."""
    from django.http import HttpResponse
    from django.test import RequestFactory

    from project.logging import RequestContext
    from project.middleware import request_log_finish

    settings.METRICS_ENABLED = True
    request = RequestFactory().get("/boom")
    context = RequestContext(request)
    request_log_finish(request, HttpResponse(status=503), context)
    (document,) = _emf_records(capsys.readouterr().out)
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Dimensions"] == [["Route"]]
    assert sorted(m["Name"] for m in directive["Metrics"]) == [
        "Errors5xx",
        "RequestLatency",
    ]
    assert document["Errors5xx"] == 1


def test_request_metrics_unmatched_path_has_bounded_route(settings, api_client, capsys):
    """Paths that match no route share one dimension value (no cardinality blowup)."""
    settings.METRICS_ENABLED = True
    api_client.get("/no/such/path/12345")
    (document,) = _emf_records(capsys.readouterr().out)
    assert document["Route"] == "unmatched"
    assert document["status_class"] == "4xx"
