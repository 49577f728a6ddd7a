"""POST /api/v1/ai/chat/completions through the Django test client."""

import json
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory
from aiproxy.tests.refusals import assert_one_refusal

pytestmark = pytest.mark.django_db

URL = "/api/v1/ai/chat/completions"
MESSAGES = [{"role": "user", "content": "Say hello."}]


def _post(client, body, **extra):
    return client.post(
        URL, data=json.dumps(body), content_type="application/json", **extra
    )


async def _read(content) -> list[bytes]:
    return [part async for part in content]


def _sse_events(response) -> list:
    """Return the ``data:`` payloads of a streamed (async) response."""
    content = response.streaming_content
    if hasattr(content, "__aiter__"):
        content = async_to_sync(_read)(content)
    raw = b"".join(content).decode()
    return [line[6:] for line in raw.split("\n\n") if line.startswith("data: ")]


def test_chat_completion_fake_upstream_openai_shape(auth_client, user, openai_upstream):
    """A non-streamed answer is a chat.completion with the upstream's usage."""
    AIModelFactory(name="gpt-test", provider="fake", upstream_model="up-model")
    response = _post(
        auth_client, {"model": "gpt-test", "messages": MESSAGES, "max_tokens": 50}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-test"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello, this is the fake upstream.",
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 8,
        "total_tokens": 20,
    }
    sent = openai_upstream.requests[0]["body"]
    assert (sent["model"], sent["max_tokens"], sent["messages"]) == (
        "up-model",
        50,
        MESSAGES,
    )


def test_chat_completion_ok_settles_ledger_and_quota(auth_client, user):
    """A successful request leaves one settled ledger row; nothing stays reserved."""
    AIModelFactory(name="gpt-test", provider="fake")
    _post(auth_client, {"model": "gpt-test", "messages": MESSAGES, "max_tokens": 50})
    record = UsageRecord.objects.get()
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (
        "ok",
        12,
        8,
    )
    assert record.user == user
    assert record.provider == "fake"
    assert record.latency_ms is not None
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 20)


def test_chat_completion_mock_stream_sse_with_usage_and_done(auth_client, user):
    """A streamed answer is SSE chunks, a usage chunk, then [DONE]."""
    AIModelFactory(name="mock-model", provider="mock")
    response = _post(
        auth_client,
        {
            "model": "mock-model",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = _sse_events(response)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(
        c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]
    )
    assert text
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    record = UsageRecord.objects.get()
    assert record.is_stream
    assert (record.prompt_tokens, record.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_chat_completion_openai_stream_through_wsgi_is_whole(auth_client, user):
    """Under WSGI (the test client) an OpenAI-compatible stream arrives whole."""
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(
        auth_client, {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    )
    events = _sse_events(response)
    assert events[-1] == "[DONE]"
    text = "".join(
        json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]
    )
    assert text == "Hello, this is the fake upstream."
    assert UsageRecord.objects.get().status == "ok"


def test_chat_completion_stream_without_include_usage_no_usage_chunk(auth_client):
    """Without stream_options.include_usage no usage chunk is sent."""
    AIModelFactory(name="mock-model", provider="mock")
    response = _post(
        auth_client, {"model": "mock-model", "messages": MESSAGES, "stream": True}
    )
    chunks = [json.loads(e) for e in _sse_events(response)[:-1]]
    assert all("usage" not in chunk for chunk in chunks)


def test_chat_completion_prompt_quoting_special_token_ok(auth_client):
    """A prompt that quotes ``<|endoftext|>`` is an ordinary prompt."""
    AIModelFactory(name="gpt-test", provider="fake")
    messages = [{"role": "user", "content": "What does <|endoftext|> mean?"}]
    response = _post(auth_client, {"model": "gpt-test", "messages": messages})
    assert response.status_code == 200


def test_chat_completion_unknown_model_404(auth_client):
    """An unknown model is 404 model_not_found; the ledger records the refusal."""
    response = _post(auth_client, {"model": "nope", "messages": MESSAGES})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "The model does not exist or is not enabled.",
        "code": "model_not_found",
    }
    record = assert_one_refusal("model_not_found", model_name="nope")
    assert record.model is None


def test_chat_completion_model_name_with_nul_404(auth_client):
    """A name holding NUL (which PostgreSQL text cannot store) is not found, not 500."""
    response = _post(auth_client, {"model": "quire\x00mock", "messages": MESSAGES})

    assert response.status_code == 404
    assert response.json()["code"] == "model_not_found"


def test_chat_completion_disabled_model_404(auth_client):
    """A disabled model is 404 model_not_found."""
    AIModelFactory(name="off", is_enabled=False)
    response = _post(auth_client, {"model": "off", "messages": MESSAGES})
    assert response.status_code == 404
    assert response.json()["code"] == "model_not_found"


def test_chat_completion_provider_not_configured_503(auth_client):
    """A model whose provider is not configured is 503 ai_not_configured."""
    AIModelFactory(name="orphan", provider="missing")
    response = _post(auth_client, {"model": "orphan", "messages": MESSAGES})
    assert response.status_code == 503
    assert response.json() == {
        "detail": "The AI provider is not configured.",
        "code": "ai_not_configured",
    }
    assert assert_one_refusal("ai_not_configured", model_name="orphan").provider == (
        "missing"
    )


def test_chat_completion_provider_without_key_503(auth_client, monkeypatch):
    """An OpenAI-compatible provider without a key is 503 before any reservation."""
    monkeypatch.delenv("AI_FAKE_API_KEY")
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(auth_client, {"model": "gpt-test", "messages": MESSAGES})
    assert response.status_code == 503
    assert response.json()["code"] == "ai_not_configured"
    assert_one_refusal("ai_not_configured", model_name="gpt-test")


def test_chat_completion_upstream_500_502_and_nothing_charged(
    auth_client, user, openai_upstream
):
    """An upstream error is 502 upstream_error with its message; no tokens charged."""
    openai_upstream.status = 400
    openai_upstream.error_message = "Bad request, key sk-live-abcdefghijklmnop"
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(auth_client, {"model": "gpt-test", "messages": MESSAGES})
    assert response.status_code == 502
    assert response.json() == {
        "detail": "The AI provider failed: Upstream answered 400: Bad request, key [redacted]",
        "code": "upstream_error",
    }
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code, record.completion_tokens) == (
        "error",
        "upstream_error",
        0,
    )
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 0)


def test_chat_completion_upstream_hang_504(
    auth_client, user, openai_upstream, settings
):
    """An upstream that never answers is 504 upstream_timeout; nothing charged."""
    settings.AI_PROVIDERS["fake"]["read_timeout"] = 0.2
    settings.AI_PROVIDERS["fake"]["max_retries"] = 0
    openai_upstream.hang = 3
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(auth_client, {"model": "gpt-test", "messages": MESSAGES})
    assert response.status_code == 504
    assert response.json() == {
        "detail": "The AI provider did not answer in time.",
        "code": "upstream_timeout",
    }
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code) == ("timeout", "upstream_timeout")
    assert QuotaCounter.objects.get(user=user).used_tokens == 0


def test_chat_completion_upstream_refused_502(auth_client, settings):
    """Nothing listening upstream is 502 upstream_error."""
    settings.AI_PROVIDERS["fake"]["base_url"] = "http://127.0.0.1:9/v1"
    AIModelFactory(name="gpt-test", provider="fake")
    response = _post(auth_client, {"model": "gpt-test", "messages": MESSAGES})
    assert response.status_code == 502
    assert response.json() == {
        "detail": "The AI provider failed: Upstream could not be reached.",
        "code": "upstream_error",
    }


def test_chat_completion_over_quota_429_retry_after(auth_client, user):
    """A request whose worst case exceeds the remaining quota is 429."""
    UserQuotaFactory(user=user, tokens_per_month=100)
    AIModelFactory(name="mock-model", provider="mock")
    response = _post(
        auth_client, {"model": "mock-model", "messages": MESSAGES, "max_tokens": 200}
    )
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "quota_exceeded"
    assert body["tokens_remaining"] == 100
    assert int(response["Retry-After"]) > 0
    assert assert_one_refusal("quota_exceeded", model_name="mock-model").model


def test_chat_completion_unauthenticated_401(api_client):
    """No token is 401 with WWW-Authenticate."""
    AIModelFactory(name="mock-model", provider="mock")
    response = _post(api_client, {"model": "mock-model", "messages": MESSAGES})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.has_header("WWW-Authenticate")


def test_chat_completion_body_too_large_413(auth_client, settings):
    """A body over AI_MAX_BODY_BYTES is 413 request_too_large."""
    settings.AI_MAX_BODY_BYTES = 1000
    AIModelFactory(name="mock-model", provider="mock")
    body = {
        "model": "mock-model",
        "messages": [{"role": "user", "content": "x" * 2000}],
    }
    response = _post(auth_client, body)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The request body is too large.",
        "code": "request_too_large",
    }


def test_chat_completion_too_many_messages_400(auth_client, settings):
    """More messages than AI_MAX_MESSAGES is 400 too_many_messages."""
    settings.AI_MAX_MESSAGES = 2
    response = _post(auth_client, {"model": "m", "messages": MESSAGES * 3})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "At most 2 messages are allowed.",
        "code": "too_many_messages",
        "fields": {"messages": ["At most 2 messages are allowed."]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": MESSAGES}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        (
            {"model": "m", "messages": [{"role": "wizard", "content": "x"}]},
            "messages[0].role",
        ),
        ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content"),
        (
            {"model": "m", "messages": [{"role": "user", "content": 5}]},
            "messages[0].content",
        ),
        (
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "image_url"}]}],
            },
            "messages[0].content[0]",
        ),
        ({"model": "m", "messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": MESSAGES, "max_tokens": "10"}, "max_tokens"),
        ({"model": "m", "messages": MESSAGES, "max_tokens": 10**9}, "max_tokens"),
        ({"model": "m", "messages": MESSAGES, "temperature": 3}, "temperature"),
        ({"model": "m", "messages": MESSAGES, "top_p": "x"}, "top_p"),
        ({"model": "m", "messages": MESSAGES, "stream": "yes"}, "stream"),
        ({"model": "m", "messages": MESSAGES, "stop": [1]}, "stop"),
        (
            {"model": "m", "messages": MESSAGES, "stream_options": False},
            "stream_options",
        ),
        ({"model": "m", "messages": MESSAGES, "stream_options": []}, "stream_options"),
        ({"model": "m", "messages": MESSAGES, "n": 2}, "n"),
        (
            {"model": "m", "messages": MESSAGES, "tools": [{"type": "function"}]},
            "tools",
        ),
    ],
)
def test_chat_completion_malformed_400_names_field(auth_client, body, field):
    """A malformed request is 400 naming the field; only the refusal is recorded."""
    response = _post(auth_client, body)
    assert response.status_code == 400
    data = response.json()
    assert (data["detail"], data["code"]) == ("Invalid input.", "invalid")
    assert list(data["fields"]) == [field]
    assert_one_refusal("invalid", model_name=body.get("model", ""))


def test_chat_completion_invalid_json_400(auth_client):
    """A body that is not JSON is 400 parse_error."""
    response = auth_client.post(URL, data="{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The request body is not valid JSON.",
        "code": "parse_error",
    }


def test_chat_completion_max_tokens_over_model_limit_400(auth_client):
    """max_tokens beyond the model's output limit is 400 naming max_tokens."""
    AIModelFactory(name="small", provider="mock", max_output_tokens=100)
    response = _post(
        auth_client, {"model": "small", "messages": MESSAGES, "max_tokens": 101}
    )
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Must be at most 100 for this model.",
        "code": "invalid",
        "fields": {"max_tokens": ["Must be at most 100 for this model."]},
    }


def test_chat_completion_prompt_over_context_400(auth_client):
    """Messages longer than the model's context are 400 context_length_exceeded."""
    AIModelFactory(name="tiny", provider="mock", context_limit=20)
    messages = [{"role": "user", "content": "word " * 100}]
    response = _post(auth_client, {"model": "tiny", "messages": messages})
    assert response.status_code == 400
    assert response.json()["code"] == "context_length_exceeded"
    assert list(response.json()["fields"]) == ["messages"]


def test_chat_completion_get_405(auth_client):
    """GET on the completions endpoint is not allowed."""
    response = auth_client.get(URL)
    assert response.status_code == 405


def test_chat_completion_ok_records_tokens_and_cost_metrics(
    auth_client, settings, capsys
):
    """A settled request writes EMF records for its tokens and its USD cost."""
    settings.METRICS_ENABLED = True
    AIModelFactory(
        name="gpt-priced",
        provider="fake",
        input_price=Decimal("0.001"),
        output_price=Decimal("0.002"),
    )
    capsys.readouterr()

    _post(auth_client, {"model": "gpt-priced", "messages": MESSAGES, "max_tokens": 50})

    values = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                values[metric["Name"]] = record[metric["Name"]]
    assert values["AITokens"] == 20
    assert values["AICostUSD"] == pytest.approx(12 * 0.001 + 8 * 0.002)


@pytest.mark.parametrize("role", [{}, [], 1, None])
def test_chat_completion_role_not_a_string_returns_400(auth_client, role):
    """A role that is an object or a list is 400 invalid, not a server error."""
    response = _post(
        auth_client,
        {"model": "quire-mock", "messages": [{"role": role, "content": "hi"}]},
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "messages[0].role" in response.json()["fields"]
