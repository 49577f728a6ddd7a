"""POST /api/v1/documents/{id}/ai/{action}/."""

import json
import uuid

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.models import AIModel, UsageRecord
from aiproxy.tests.factories import AIModelFactory
from aiproxy.tests.refusals import assert_one_refusal
from documents.models import Document, DocumentAccess

pytestmark = pytest.mark.django_db


def _url(document_id, action: str) -> str:
    return f"/api/v1/documents/{document_id}/ai/{action}/"


def _post(client, url, body=None):
    return client.post(
        url, data=json.dumps(body or {}), content_type="application/json"
    )


@pytest.fixture(autouse=True)
def _default_model(settings):
    AIModel.objects.update_or_create(
        name=settings.AI_DEFAULT_MODEL,
        defaults={"provider": "mock", "upstream_model": "mock-1", "is_enabled": True},
    )


@pytest.fixture
def document(user):
    return Document.objects.create(
        owner=user, title="Trip notes", body="We went to Lyon."
    )


def test_document_summarize_returns_answer_not_written(
    auth_client, document, openai_upstream
):
    """The answer comes back with the document version; the document is unchanged."""
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(auth_client, _url(document.pk, "summarize"), {"model": "gpt-test"})
    assert response.status_code == 200
    assert response.json() == {
        "action": "summarize",
        "document": str(document.pk),
        "version": 1,
        "model": "gpt-test",
        "content": "Hello, this is the fake upstream.",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }
    document.refresh_from_db()
    assert (document.body, document.version) == ("We went to Lyon.", 1)
    sent = openai_upstream.requests[0]["body"]["messages"]
    assert sent[0]["role"] == "system"
    assert (
        "<document>\n# Trip notes\n\nWe went to Lyon.\n</document>"
        in sent[1]["content"]
    )


def test_document_action_ledger_carries_document_and_action(auth_client, document):
    """The ledger row names the document and the action."""
    AIModelFactory(name="gpt-test", provider="fake")
    _post(
        auth_client,
        _url(document.pk, "rewrite"),
        {"model": "gpt-test", "tone": "formal"},
    )
    record = UsageRecord.objects.get()
    assert (record.document_id, record.action, record.status) == (
        document.pk,
        "rewrite",
        "ok",
    )


def test_document_translate_prompt_names_language(
    auth_client, document, openai_upstream
):
    """translate sends the target language in the task."""
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(
        auth_client,
        _url(document.pk, "translate"),
        {"model": "gpt-test", "target_language": "German"},
    )
    assert response.status_code == 200
    assert (
        "into German" in openai_upstream.requests[0]["body"]["messages"][1]["content"]
    )


def test_document_translate_without_language_400(auth_client, document):
    """translate without target_language is 400 naming the field."""
    response = _post(auth_client, _url(document.pk, "translate"))
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "fields": {"target_language": ["Required to translate."]},
    }


def test_document_action_default_model_mock_streams(auth_client, document):
    """Without a model the default (mock) answers; stream=true gives SSE."""
    from aiproxy.tests.api.test_chat_completions import _sse_events

    response = _post(auth_client, _url(document.pk, "continue"), {"stream": True})
    assert response.status_code == 200
    events = _sse_events(response)
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["usage"]["completion_tokens"] > 0
    assert UsageRecord.objects.get().action == "continue"


def test_document_action_viewer_may_use(client_for, document):
    """A viewer of a shared document may run an action on it."""
    viewer = UserFactory()
    DocumentAccess.objects.create(
        document=document, user=viewer, email=viewer.email, role="viewer"
    )
    response = _post(client_for(viewer), _url(document.pk, "summarize"))
    assert response.status_code == 200


@pytest.mark.parametrize("document_id", ["other", "random", "not-a-uuid"])
def test_document_action_invisible_document_404(auth_client, document_id):
    """Someone else's document, a missing one or a bad id is 404; no link to it."""
    if document_id == "other":
        document_id = Document.objects.create(owner=UserFactory(), title="x").pk
    elif document_id == "random":
        document_id = uuid.uuid4()
    response = _post(auth_client, _url(document_id, "summarize"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Document not found.", "code": "not_found"}
    record = assert_one_refusal("not_found", model_name="quire-mock")
    assert (record.document_id, record.action) == (None, "summarize")


def test_document_action_unknown_action_404(auth_client, document):
    """An unknown action is 404 action_not_found."""
    response = _post(auth_client, _url(document.pk, "poem"))
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Unknown AI action.",
        "code": "action_not_found",
    }


def test_document_action_bad_tone_400(auth_client, document):
    """An unknown tone is 400 naming tone."""
    response = _post(auth_client, _url(document.pk, "rewrite"), {"tone": "angry"})
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["tone"]


@pytest.mark.parametrize(
    "body",
    [
        {"stream": 1},
        {"stream": "yes"},
        {"max_tokens": "10"},
        {"max_tokens": 10.0},
        {"max_tokens": True},
        {"model": 5},
        {"instructions": 5},
        {"target_language": 5},
    ],
)
def test_document_action_option_of_another_json_type_400(auth_client, document, body):
    """An option of another JSON type than its schema's is 400 naming it."""
    response = _post(auth_client, _url(document.pk, "translate"), body)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(body) <= set(response.json()["fields"])


def test_document_action_document_too_long_413(auth_client, document, settings):
    """A document longer than AI_DOCUMENT_MAX_CHARS is 413 document_too_large."""
    settings.AI_DOCUMENT_MAX_CHARS = 5
    response = _post(auth_client, _url(document.pk, "summarize"))
    assert response.status_code == 413
    assert response.json()["code"] == "document_too_large"
