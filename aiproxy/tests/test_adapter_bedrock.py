"""The Bedrock adapter (boto3 Converse/ConverseStream) against a loopback fake."""

import asyncio
import logging
import threading
from typing import Any

import pytest

from aiproxy.adapters.base import (
    ChatRequest,
    ProviderConfig,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.adapters.bedrock import BedrockProvider
from aiproxy.tests.fakes.bedrock_upstream import DEFAULT_REPLY, count_words

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
PROMPT = "Rewrite the confidential memo about the orange giraffe"


def make_provider(**overrides: Any) -> BedrockProvider:
    """Return an adapter with short timeouts and no retry pause."""
    config = {
        "name": "bedrock",
        "kind": "bedrock",
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_retries": 1,
        "options": {"region": "us-east-1", "retry_backoff": 0.0},
        **overrides,
    }
    return BedrockProvider(ProviderConfig(**config))


def make_request(**overrides: Any) -> ChatRequest:
    """Return an OpenAI-shaped request with a system message."""
    fields = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": PROMPT},
        ],
        "max_tokens": 100,
        **overrides,
    }
    return ChatRequest(**fields)


def collect(provider, request, limit: int = 10_000):
    """Return the deltas streamed (at most ``limit``) and the error raised."""

    async def run():
        deltas: list[StreamDelta] = []
        stream = provider.stream(request)
        try:
            async for delta in stream:
                deltas.append(delta)
                if len(deltas) >= limit:
                    break
        except UpstreamError as exc:
            return deltas, exc
        finally:
            await stream.aclose()
        return deltas, None

    return asyncio.run(run())


def test_complete_translates_request_and_answer(bedrock_upstream):
    """System messages go to ``system``; the answer comes back OpenAI-shaped."""
    result = asyncio.run(make_provider().complete(make_request(stop=["zzz"])))

    sent = bedrock_upstream.requests[0]
    assert sent["model"] == MODEL
    assert sent["path"].endswith("/converse")
    assert sent["signed"] is True
    assert sent["body"] == {
        "messages": [{"role": "user", "content": [{"text": PROMPT}]}],
        "system": [{"text": "Be brief."}],
        "inferenceConfig": {"maxTokens": 100, "stopSequences": ["zzz"]},
    }
    assert result.content == DEFAULT_REPLY
    assert result.finish_reason == "stop"
    assert result.usage == Usage(
        count_words("Be brief. " + PROMPT), count_words(DEFAULT_REPLY)
    )


def test_complete_merges_roles_and_caps_temperature(bedrock_upstream):
    """Same-role turns merge; temperature is capped at 1; top_p is renamed."""
    request = make_request(
        messages=[
            {"role": "user", "content": "One."},
            {"role": "user", "content": [{"type": "text", "text": "Two."}]},
            {"role": "assistant", "content": "Ok."},
            {"role": "user", "content": "Three."},
        ],
        temperature=1.5,
        top_p=0.9,
    )

    asyncio.run(make_provider().complete(request))

    body = bedrock_upstream.requests[0]["body"]
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "One.\n\nTwo."}]},
        {"role": "assistant", "content": [{"text": "Ok."}]},
        {"role": "user", "content": [{"text": "Three."}]},
    ]
    assert body["inferenceConfig"] == {
        "maxTokens": 100,
        "temperature": 1.0,
        "topP": 0.9,
    }


def test_complete_max_tokens_finishes_with_length(bedrock_upstream):
    """``stopReason: max_tokens`` becomes ``finish_reason: length``."""
    result = asyncio.run(make_provider().complete(make_request(max_tokens=2)))

    assert result.content == "Hello from"
    assert result.finish_reason == "length"
    assert result.usage.completion_tokens == 2


def test_complete_validation_error_is_not_retried(bedrock_upstream, caplog):
    """A 400 ``ValidationException`` is an ``UpstreamError`` after one request."""
    caplog.set_level(logging.DEBUG, logger="aiproxy")
    bedrock_upstream.fail_next = [(400, "ValidationException", "maxTokens too big")]

    with pytest.raises(UpstreamError) as info:
        asyncio.run(make_provider().complete(make_request()))

    assert info.value.status == 400
    assert info.value.message == "bedrock: ValidationException: maxTokens too big"
    assert len(bedrock_upstream.requests) == 1
    assert PROMPT not in caplog.text


def test_complete_throttled_once_is_retried(bedrock_upstream):
    """One ``ThrottlingException`` is retried once, and the retry succeeds."""
    bedrock_upstream.fail_next = [(429, "ThrottlingException", "Slow down")]

    result = asyncio.run(make_provider().complete(make_request()))

    assert result.content == DEFAULT_REPLY
    assert len(bedrock_upstream.requests) == 2


def test_complete_server_error_twice_fails_after_one_retry(bedrock_upstream):
    """Two 500s: one retry only, then ``UpstreamError`` with status 500."""
    bedrock_upstream.fail_next = [(500, "InternalServerException", "boom")] * 3

    with pytest.raises(UpstreamError) as info:
        asyncio.run(make_provider().complete(make_request()))

    assert info.value.status == 500
    assert len(bedrock_upstream.requests) == 2


def test_complete_hanging_upstream_times_out_without_retry(bedrock_upstream):
    """No answer within the read timeout: ``UpstreamTimeout``, not retried."""
    bedrock_upstream.hang = True

    with pytest.raises(UpstreamTimeout) as info:
        asyncio.run(make_provider(read_timeout=0.3).complete(make_request()))

    assert info.value.message == "bedrock: read timeout"
    assert len(bedrock_upstream.requests) == 1


def test_complete_runs_off_the_event_loop(bedrock_upstream):
    """The boto3 call does not block the loop: a ticker keeps running."""
    bedrock_upstream.hang = True
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def run():
        task = asyncio.create_task(ticker())
        with pytest.raises(UpstreamTimeout):
            await make_provider(read_timeout=0.3).complete(make_request())
        task.cancel()

    asyncio.run(run())

    assert ticks >= 10


def test_stream_yields_words_then_usage(bedrock_upstream):
    """ConverseStream events become deltas; the last carries finish and usage."""
    deltas, error = collect(make_provider(), make_request())

    assert error is None
    assert "".join(d.content for d in deltas) == DEFAULT_REPLY
    assert deltas[-1] == StreamDelta(
        finish_reason="stop",
        usage=Usage(count_words("Be brief. " + PROMPT), count_words(DEFAULT_REPLY)),
    )
    assert bedrock_upstream.requests[0]["path"].endswith("/converse-stream")


def test_stream_exception_event_after_text_is_not_retried(bedrock_upstream):
    """A ``throttlingException`` event after text ends the stream with an error."""
    bedrock_upstream.stream_error_after = 2

    deltas, error = collect(make_provider(), make_request())

    assert [d.content for d in deltas] == ["Hello", " from"]
    assert error.status == 429
    assert error.message == "bedrock: throttlingException: Too many requests"
    assert len(bedrock_upstream.requests) == 1


def test_stream_exception_event_before_text_is_retried_once(bedrock_upstream):
    """An exception event before any text is retried once, then raised."""
    bedrock_upstream.stream_error_after = 0

    deltas, error = collect(make_provider(), make_request())

    assert deltas == []
    assert error.status == 429
    assert len(bedrock_upstream.requests) == 2


def test_stream_closed_by_consumer_cancels_upstream(bedrock_upstream):
    """Closing the iterator early closes the HTTP response mid-stream."""
    bedrock_upstream.chunk_delay = 0.05
    bedrock_upstream.reply = " ".join(["word"] * 100)

    deltas, error = collect(make_provider(), make_request(), limit=2)

    assert len(deltas) == 2
    assert error is None
    assert bedrock_upstream.cancelled.wait(5)
    assert not bedrock_upstream.finished.is_set()


def test_stream_many_concurrent_streams_share_the_pool(bedrock_upstream):
    """Twenty concurrent streams complete; none runs on the event loop thread."""
    bedrock_upstream.chunk_delay = 0.01
    loop_thread = threading.get_ident()
    seen: set[int] = set()
    original = BedrockProvider._run

    async def spy(self, func, *args, **kwargs):
        def wrapped(*a, **k):
            seen.add(threading.get_ident())
            return func(*a, **k)

        return await original(self, wrapped, *args, **kwargs)

    async def one(provider):
        return "".join([d.content async for d in provider.stream(make_request())])

    async def run():
        provider = make_provider(connect_timeout=5.0, read_timeout=10.0)
        provider._run = spy.__get__(provider)
        return await asyncio.gather(*(one(provider) for _ in range(20)))

    answers = asyncio.run(run())

    assert answers == [DEFAULT_REPLY] * 20
    assert loop_thread not in seen


def test_complete_without_credentials_is_not_configured(bedrock_upstream, monkeypatch):
    """No AWS credentials: the provider is not configured (503), nothing sent."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(ProviderNotConfigured):
        asyncio.run(make_provider().complete(make_request()))

    assert bedrock_upstream.requests == []
