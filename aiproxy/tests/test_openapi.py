"""The async AI routes appear in the OpenAPI schema."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_openapi_describes_chat_completions(schema):
    """The chat completion POST is documented with its body, answers and auth."""
    operation = schema["paths"]["/api/v1/ai/chat/completions"]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    answers = operation["responses"]["200"]["content"]
    assert set(answers) == {"application/json", "text/event-stream"}
    for status in ("400", "401", "404", "413", "429", "502", "504"):
        assert status in operation["responses"]
    request = schema["components"]["schemas"]["ChatCompletionRequest"]
    assert request["required"] == ["model", "messages"]


def test_openapi_describes_document_actions(schema):
    """The document action POST lists every action and its options."""
    operation = schema["paths"]["/api/v1/documents/{document_id}/ai/{action}/"]["post"]
    action = next(p for p in operation["parameters"] if p["name"] == "action")
    assert action["schema"]["enum"] == ["continue", "rewrite", "summarize", "translate"]
    options = schema["components"]["schemas"]["DocumentActionRequest"]["properties"]
    assert {"target_language", "tone", "length", "stream"} <= set(options)
