"""The AI routes answer the same CORS headers as the REST API."""

import json

import pytest

from aiproxy.models import AIModel
from documents.models import Document

pytestmark = pytest.mark.django_db

ORIGIN = "https://app.example.test"


@pytest.fixture(autouse=True)
def _allowed_origin(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    AIModel.objects.update_or_create(
        name=settings.AI_DEFAULT_MODEL,
        defaults={"provider": "mock", "upstream_model": "mock-1", "is_enabled": True},
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/ai/chat/completions", "/api/v1/documents/x/ai/summarize/"]
)
def test_ai_cors_preflight_allowed(client, path):
    """A preflight to an AI route is answered like one to the REST API."""
    response = client.options(
        path,
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert int(response["Access-Control-Max-Age"]) >= 600


def test_ai_cors_stream_answer_readable_cross_origin(user, client_for):
    """A streamed document action carries the CORS headers of the REST API."""
    document = Document.objects.create(owner=user, title="Notes", body="Lyon.")

    response = client_for(user).post(
        f"/api/v1/documents/{document.pk}/ai/summarize/",
        data=json.dumps({"stream": True}),
        content_type="application/json",
        HTTP_ORIGIN=ORIGIN,
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-request-id" in response["Access-Control-Expose-Headers"].lower()
    assert b"data:" in b"".join(response.streaming_content)


def test_ai_cors_usage_unknown_origin_not_allowed(user, client_for):
    """An origin not in the list gets the answer but no permission to read it."""
    response = client_for(user).get("/api/v1/ai/usage", HTTP_ORIGIN="https://x.test")

    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
