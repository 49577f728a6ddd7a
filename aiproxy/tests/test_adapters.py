"""The mock and OpenAI-compatible adapters against a real loopback upstream."""

import asyncio
import time

import pytest

from aiproxy import providers
from aiproxy.adapters.base import (
    ChatRequest,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
)
from aiproxy.adapters.openai_compat import sanitise

MESSAGES = [{"role": "user", "content": "Say hello."}]


def _request(**overrides) -> ChatRequest:
    return ChatRequest(
        model=overrides.pop("model", "up-1"),
        messages=overrides.pop("messages", MESSAGES),
        max_tokens=overrides.pop("max_tokens", 100),
        **overrides,
    )


async def _collect(name: str, request: ChatRequest) -> list[StreamDelta]:
    provider = providers.provider_get(name)
    return [delta async for delta in provider.stream(request)]


def test_mock_complete_same_messages_same_answer():
    """The mock answers the same messages with the same text and usage."""

    async def run():
        provider = providers.provider_get("mock")
        return await provider.complete(_request()), await provider.complete(_request())

    first, second = asyncio.run(run())
    assert first == second
    assert first.content
    assert first.usage.completion_tokens > 0
    assert first.usage.prompt_tokens > 0


def test_mock_stream_pieces_join_to_complete_answer():
    """Streamed pieces join to the non-streamed answer; the last carries usage."""
    deltas = asyncio.run(_collect("mock", _request()))
    complete = asyncio.run(providers.provider_get("mock").complete(_request()))
    assert "".join(d.content for d in deltas) == complete.content
    assert len(deltas) > 5
    assert deltas[-1].usage == complete.usage


def test_mock_max_tokens_truncates_with_length():
    """A small max_tokens cuts the answer and reports finish_reason length."""
    result = asyncio.run(
        providers.provider_get("mock").complete(_request(max_tokens=3))
    )
    assert result.usage.completion_tokens == 3
    assert result.finish_reason == "length"


def test_provider_get_unknown_name_not_configured():
    """A provider missing from AI_PROVIDERS is not configured."""
    with pytest.raises(ProviderNotConfigured):
        providers.provider_get("nope")


def test_provider_get_openai_without_base_url_not_configured(settings):
    """An OpenAI-compatible provider without a base URL is not configured."""
    settings.AI_PROVIDERS = {"bare": {"kind": "openai"}}
    with pytest.raises(ProviderNotConfigured):
        providers.provider_get("bare")


def test_provider_get_same_loop_same_instance():
    """One adapter (and connection pool) is shared on one event loop."""

    async def run():
        return providers.provider_get("fake") is providers.provider_get("fake")

    assert asyncio.run(run())


def test_openai_complete_sends_key_and_returns_usage(openai_upstream):
    """The adapter sends the bearer key and reads content and usage."""
    result = asyncio.run(providers.provider_get("fake").complete(_request()))
    assert result.content == "Hello, this is the fake upstream."
    assert result.usage.prompt_tokens == 12
    assert result.usage.completion_tokens == 8
    sent = openai_upstream.requests[0]
    assert sent["headers"]["Authorization"] == "Bearer sk-test-fake-key-1234567890"
    assert sent["body"]["model"] == "up-1"
    assert sent["body"]["max_tokens"] == 100


def test_openai_stream_yields_deltas_and_usage(openai_upstream):
    """The SSE stream becomes deltas; the last one carries the upstream usage."""
    deltas = asyncio.run(_collect("fake", _request()))
    assert "".join(d.content for d in deltas) == "Hello, this is the fake upstream."
    assert deltas[-1].usage.completion_tokens == 8
    assert deltas[-1].finish_reason == "stop"
    assert openai_upstream.requests[0]["body"]["stream_options"] == {
        "include_usage": True
    }


def test_openai_error_status_raises_sanitised_upstream_error(openai_upstream):
    """A 4xx answer is an UpstreamError whose message hides key-like strings."""
    openai_upstream.status = 401
    openai_upstream.error_message = "Incorrect API key sk-test-fake-key-1234567890"
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(providers.provider_get("fake").complete(_request()))
    assert caught.value.status == 401
    assert "sk-test" not in caught.value.message
    assert "[redacted]" in caught.value.message
    assert len(openai_upstream.requests) == 1  # a 4xx is not retried


def test_openai_transient_failure_retried_once(openai_upstream):
    """One 503 before any byte is retried once, then the answer arrives."""
    openai_upstream.fail_times = 1
    result = asyncio.run(providers.provider_get("fake").complete(_request()))
    assert result.content
    assert len(openai_upstream.requests) == 2


def test_openai_two_failures_give_up_after_one_retry(openai_upstream):
    """Two 503s in a row: one retry only, then UpstreamError with the status."""
    openai_upstream.fail_times = 5
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(_collect("fake", _request()))
    assert caught.value.status == 503
    assert len(openai_upstream.requests) == 2


def test_openai_hang_raises_timeout(openai_upstream, settings):
    """An upstream that never answers ends in UpstreamTimeout after the read timeout."""
    settings.AI_PROVIDERS["fake"]["read_timeout"] = 0.2
    settings.AI_PROVIDERS["fake"]["max_retries"] = 0
    providers.cache_clear()
    openai_upstream.hang = 3
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        asyncio.run(providers.provider_get("fake").complete(_request()))
    assert time.monotonic() - started < 1.5


def test_openai_refused_connection_raises_upstream_error(settings):
    """Nothing listening on the port is an UpstreamError, not a crash."""
    settings.AI_PROVIDERS["fake"]["base_url"] = "http://127.0.0.1:9/v1"
    providers.cache_clear()
    with pytest.raises(UpstreamError) as caught:
        asyncio.run(providers.provider_get("fake").complete(_request()))
    assert caught.value.message == "Upstream could not be reached."


def test_openai_stream_cut_after_bytes_not_retried(openai_upstream):
    """A stream dropped after some deltas raises, with no second request."""
    openai_upstream.cut_after = 3
    received: list[str] = []

    async def run():
        async for delta in providers.provider_get("fake").stream(_request()):
            received.append(delta.content)

    with pytest.raises(UpstreamError):
        asyncio.run(run())
    assert "".join(received) == "Hello, this"
    assert len(openai_upstream.requests) == 1


def test_openai_requests_each_on_its_own_connection(openai_upstream):
    """No connection carries two exchanges: nothing of one reaches the next."""

    async def run():
        provider = providers.provider_get("fake")
        for _ in range(3):
            await provider.complete(_request())

    asyncio.run(run())
    peers = {request["peer"] for request in openai_upstream.requests}
    assert len(openai_upstream.requests) == 3
    assert len(peers) == 3
    assert {r["headers"]["Connection"] for r in openai_upstream.requests} == {"close"}


def test_openai_connection_closed_by_upstream_not_reused(openai_upstream):
    """After a stream the upstream closed (``Connection: close``), calls still work."""

    async def run():
        provider = providers.provider_get("fake")
        [delta async for delta in provider.stream(_request())]
        return await provider.complete(_request())

    result = asyncio.run(run())
    assert result.content == "Hello, this is the fake upstream."
    peers = [request["peer"] for request in openai_upstream.requests]
    assert peers[0] != peers[1]


def test_openai_stream_closed_early_cancels_upstream(openai_upstream):
    """Closing the stream early closes the connection; the upstream sees it."""
    openai_upstream.pieces = [" word"] * 200
    openai_upstream.chunk_delay = 0.02

    async def run():
        stream = providers.provider_get("fake").stream(_request(max_tokens=200))
        async for _delta in stream:
            break
        await stream.aclose()

    asyncio.run(run())
    assert openai_upstream.cancelled.wait(3)
    assert not openai_upstream.finished.is_set()


def test_sanitise_long_multiline_message_one_short_line():
    """Upstream messages are squeezed to one line and truncated."""
    cleaned = sanitise("bad\n\nthing " * 100)
    assert "\n" not in cleaned
    assert len(cleaned) <= 200


def test_openai_stream_stalls_read_timeout_not_retried(openai_upstream, settings):
    """A stream that stalls past the read timeout is UpstreamTimeout, not retried."""
    settings.AI_PROVIDERS["fake"]["read_timeout"] = 0.3
    providers.cache_clear()
    openai_upstream.pieces = ["a", "b", "c"]
    openai_upstream.chunk_delay = 2
    received: list[str] = []

    async def run():
        async for delta in providers.provider_get("fake").stream(_request()):
            received.append(delta.content)

    with pytest.raises(UpstreamTimeout):
        asyncio.run(run())
    assert len(openai_upstream.requests) == 1
