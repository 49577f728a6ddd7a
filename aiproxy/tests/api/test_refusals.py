"""Requests refused before the provider is called: one ``refused`` ledger row each."""

import json

from django.db import DatabaseError

import pytest

from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.selectors import usage_totals
from aiproxy.services import quota_release_stale
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory
from aiproxy.tests.refusals import assert_one_refusal
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

CHAT = "/api/v1/ai/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_refusal_rate_limited_recorded_and_minute_not_counted(auth_client, user):
    """A 429 rate_limited leaves a refused row; the minute's count stays at the limit."""
    UserQuotaFactory(user=user, requests_per_minute=1)
    AIModelFactory(name="mock-model", provider="mock")
    body = {"model": "mock-model", "messages": MESSAGES, "max_tokens": 5}
    assert _post(auth_client, CHAT, body).status_code == 200
    response = _post(auth_client, CHAT, body)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    refused = UsageRecord.objects.get(status="refused")
    assert (refused.error_code, refused.model.name) == ("rate_limited", "mock-model")
    assert QuotaCounter.objects.get(user=user).minute_requests == 1


def test_refusal_max_tokens_over_the_model_limit_names_the_model(auth_client):
    """A max_tokens above the model's limit is a refused row tied to that model."""
    model = AIModelFactory(name="small", provider="mock", max_output_tokens=10)
    body = {"model": "small", "messages": MESSAGES, "max_tokens": 11}
    assert _post(auth_client, CHAT, body).status_code == 400
    record = assert_one_refusal("invalid", model_name="small")
    assert (record.model_id, record.provider) == (model.pk, "mock")


def test_refusal_of_a_stream_is_marked_streamed(auth_client):
    """A refused streamed request says it was a stream."""
    body = {"model": "nope", "messages": MESSAGES, "stream": True}
    assert _post(auth_client, CHAT, body).status_code == 404
    assert assert_one_refusal("model_not_found", model_name="nope").is_stream


def test_refusal_keeps_at_most_the_column_of_a_long_model_name(auth_client):
    """A model name longer than the column is cut, not a 500."""
    body = {"model": "m" * 500, "messages": MESSAGES}
    assert _post(auth_client, CHAT, body).status_code == 404
    assert_one_refusal("model_not_found", model_name="m" * 100)


def test_refusal_unauthenticated_is_not_recorded(api_client):
    """A request without a user (401) leaves no row: there is no one to bill."""
    response = _post(api_client, CHAT, {"model": "nope", "messages": MESSAGES})
    assert response.status_code == 401
    assert not UsageRecord.objects.exists()


def test_refusal_document_too_large_links_the_document(auth_client, user, settings):
    """A document too long for an action is refused with its document and action."""
    settings.AI_DOCUMENT_MAX_CHARS = 10
    document = DocumentFactory(owner=user, body="x" * 11)
    url = f"/api/v1/documents/{document.pk}/ai/rewrite/"
    assert _post(auth_client, url, {}).status_code == 413
    record = assert_one_refusal(
        "document_too_large", model_name=settings.AI_DEFAULT_MODEL
    )
    assert (record.document_id, record.action) == (document.pk, "rewrite")


def test_refusal_unknown_action_recorded_without_an_action(auth_client, user):
    """An unknown action is refused (404 action_not_found) with an empty action."""
    document = DocumentFactory(owner=user)
    url = f"/api/v1/documents/{document.pk}/ai/dance/"
    assert _post(auth_client, url, {}).status_code == 404
    record = assert_one_refusal("action_not_found")
    assert (record.action, record.document_id) == ("", None)


def test_refusal_row_write_failure_still_answers_the_refusal(auth_client, monkeypatch):
    """If the refused row cannot be written, the client still gets its 404."""

    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(UsageRecord.objects, "create", fail)
    response = _post(auth_client, CHAT, {"model": "nope", "messages": MESSAGES})
    assert response.status_code == 404
    assert response.json()["code"] == "model_not_found"


def test_refusals_left_out_of_the_users_usage(auth_client, user):
    """/ai/usage counts requests that reached the provider, not refusals."""
    AIModelFactory(name="mock-model", provider="mock")
    _post(auth_client, CHAT, {"model": "mock-model", "messages": MESSAGES})
    _post(auth_client, CHAT, {"model": "nope", "messages": MESSAGES})
    usage = auth_client.get("/api/v1/ai/usage").json()
    assert usage["requests"] == 1
    assert [row["model"] for row in usage["by_model"]] == ["mock-model"]


def test_refusals_counted_apart_in_the_ledger_totals(auth_client):
    """The ledger totals count refusals apart from requests, with no tokens."""
    AIModelFactory(name="mock-model", provider="mock")
    _post(auth_client, CHAT, {"model": "mock-model", "messages": MESSAGES})
    _post(auth_client, CHAT, {"model": "mock-model", "messages": MESSAGES * 0})
    totals = usage_totals(UsageRecord.objects.all())
    assert (totals.total["requests"], totals.total["refused"]) == (1, 1)
    ok = UsageRecord.objects.get(status="ok")
    assert totals.total["tokens"] == ok.total_tokens


def test_refusals_never_released_as_stale(auth_client, settings):
    """Releasing stale reservations leaves refused rows alone."""
    settings.AI_STALE_RESERVATION_SECONDS = 0
    _post(auth_client, CHAT, {"model": "nope", "messages": MESSAGES})
    assert quota_release_stale() == 0
    assert_one_refusal("model_not_found", model_name="nope")
