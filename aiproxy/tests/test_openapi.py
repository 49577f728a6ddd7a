"""The async AI routes appear in the OpenAPI schema."""

import json

import jsonschema
import pytest
from asgiref.sync import async_to_sync

from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_model(settings) -> None:
    """Ensure the default model exists (a transactional test may have flushed it)."""
    from aiproxy.models import AIModel

    AIModel.objects.update_or_create(
        name=settings.AI_DEFAULT_MODEL,
        defaults={"provider": "mock", "upstream_model": "mock-1", "is_enabled": True},
    )


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


def _events(response) -> list[dict]:
    """Return the stream's events as a client reads them (``data`` and ``event``)."""
    content = response.streaming_content
    if hasattr(content, "__aiter__"):
        content = async_to_sync(_read)(content)
    raw = b"".join(content).decode()
    return [
        {"event": "message", "data": block.removeprefix("data: ")}
        for block in raw.split("\n\n")
        if block.startswith("data: ")
    ]


async def _read(content) -> list[bytes]:
    return [part async for part in content]


def test_openapi_stream_events_match_the_declared_event_schema(
    schema, auth_client, user, default_model
):
    """Every event of a streamed document action matches the declared SSE schema."""
    operation = schema["paths"]["/api/v1/documents/{document_id}/ai/{action}/"]["post"]
    event_schema = operation["responses"]["200"]["content"]["text/event-stream"][
        "schema"
    ]
    document = DocumentFactory(owner=user)
    response = auth_client.post(
        f"/api/v1/documents/{document.pk}/ai/summarize/",
        data=json.dumps({"stream": True}),
        content_type="application/json",
    )
    assert response["Content-Type"] == "text/event-stream"

    events = _events(response)

    assert len(events) > 2
    assert events[-1]["data"] == "[DONE]"
    for event in events:
        jsonschema.validate(event, event_schema)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (
            "/api/v1/ai/chat/completions",
            {"model": " ", "messages": [{"role": "user", "content": "hi"}]},
        ),
        ("/api/v1/documents/{id}/ai/summarize/", {"model": ""}),
        ("/api/v1/documents/{id}/ai/translate/", {"target_language": "  "}),
    ],
)
def test_openapi_names_are_declared_non_blank_as_the_server_refuses_blank_ones(
    schema, auth_client, user, url, body
):
    """``model`` and ``target_language`` declare a non-space; blank ones are 400."""
    document = DocumentFactory(owner=user)
    components = schema["components"]["schemas"]
    patterns = {
        components["ChatCompletionRequest"]["properties"]["model"]["pattern"],
        components["DocumentActionRequest"]["properties"]["model"]["pattern"],
        components["DocumentActionRequest"]["properties"]["target_language"]["pattern"],
    }

    response = auth_client.post(
        url.format(id=document.pk),
        data=json.dumps(body),
        content_type="application/json",
    )

    assert patterns == {r"\S"}
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_openapi_document_action_body_is_optional_as_the_server_runs_without_one(
    schema, auth_client, user, default_model
):
    """No body runs the action with its defaults, and the schema says so."""
    operation = schema["paths"]["/api/v1/documents/{document_id}/ai/{action}/"]["post"]
    document = DocumentFactory(owner=user)

    response = auth_client.post(f"/api/v1/documents/{document.pk}/ai/summarize/")

    assert operation["requestBody"]["required"] is False
    assert response.status_code == 200


def test_openapi_chat_optional_fields_are_nullable_as_the_server_takes_null(
    schema, auth_client, settings, default_model
):
    """Each optional field sent as ``null`` is left out (200); each is ``nullable``."""
    request = schema["components"]["schemas"]["ChatCompletionRequest"]
    optional = set(request["properties"]) - set(request["required"])
    message = {"role": "user", "content": "Hi", "name": None}

    response = auth_client.post(
        "/api/v1/ai/chat/completions",
        data=json.dumps(
            {
                "model": settings.AI_DEFAULT_MODEL,
                "messages": [message],
                **dict.fromkeys(optional),
            }
        ),
        content_type="application/json",
    )

    assert response.status_code == 200
    assert optional == {
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "stop",
        "user",
    }
    assert all(request["properties"][name]["nullable"] for name in optional)
    assert request["properties"]["messages"]["items"]["properties"]["name"]["nullable"]


@pytest.mark.parametrize(
    ("message", "field", "limit"),
    [
        ({"role": "user", "content": []}, "content", {"minItems": 1}),
        ({"role": "user", "content": "Hi", "name": ""}, "name", {"minLength": 1}),
        (
            {"role": "user", "content": "Hi", "name": "n" * 65},
            "name",
            {"maxLength": 64},
        ),
    ],
)
def test_openapi_chat_message_limits_declared_as_the_server_refuses(
    schema, auth_client, settings, default_model, message, field, limit
):
    """An empty content list and a name outside 1 to 64 are declared and 400."""
    declared = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"][
        "messages"
    ]["items"]["properties"][field]
    if field == "content":
        declared = declared["oneOf"][1]

    response = auth_client.post(
        "/api/v1/ai/chat/completions",
        data=json.dumps({"model": settings.AI_DEFAULT_MODEL, "messages": [message]}),
        content_type="application/json",
    )

    assert limit.items() <= declared.items()
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_openapi_chat_limits_are_this_servers_settings(api_client, settings):
    """``max_tokens`` and the number of messages declare the configured caps."""
    settings.AI_MAX_TOKENS_CAP = 100
    settings.AI_MAX_MESSAGES = 7

    schema = api_client.get("/api/schema/?format=json").json()

    request = schema["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    assert request["max_tokens"]["maximum"] == 100
    assert request["max_completion_tokens"]["maximum"] == 100
    assert request["messages"]["maxItems"] == 7
