"""The Anthropic adapter against a fake Messages API on loopback."""

import asyncio
import logging
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from aiproxy.adapters.anthropic import AnthropicProvider
from aiproxy.adapters.base import (
    ChatRequest,
    ProviderConfig,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.tests.fakes.anthropic_upstream import DEFAULT_REPLY, count_words

PROMPT = "Summarise the secret plan about the purple elephant"


def make_provider(upstream, **overrides: Any) -> AnthropicProvider:
    """Return an adapter pointed at ``upstream`` with short timeouts."""
    config = {
        "name": "anthropic",
        "kind": "anthropic",
        "base_url": upstream.url,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_retries": 1,
        "api_key_secret": "",
        "options": {"retry_backoff": 0.0},
        "api_key": lambda: upstream.api_key,
        **overrides,
    }
    return AnthropicProvider(ProviderConfig(**config))


def make_request(**overrides: Any) -> ChatRequest:
    """Return an OpenAI-shaped request with a system message."""
    fields = {
        "model": "claude-test-1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": PROMPT},
        ],
        "max_tokens": 100,
        **overrides,
    }
    return ChatRequest(**fields)


def complete(provider: AnthropicProvider, request: ChatRequest):
    """Run ``provider.complete`` on a fresh event loop and close the adapter."""

    async def run():
        try:
            return await provider.complete(request)
        finally:
            await provider.aclose()

    return asyncio.run(run())


def collect(provider: AnthropicProvider, request: ChatRequest, limit: int = 10_000):
    """Return the deltas streamed (at most ``limit``) and the error raised, if any."""

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
            await provider.aclose()
        return deltas, None

    return asyncio.run(run())


def expected_prompt_tokens() -> int:
    return count_words("Be brief. " + PROMPT)


def test_complete_translates_request_and_answer(anthropic_upstream):
    """System messages go to ``system``; the answer comes back OpenAI-shaped."""
    result = complete(make_provider(anthropic_upstream), make_request())

    sent = anthropic_upstream.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"] == {
        "model": "claude-test-1",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": PROMPT}],
    }
    assert anthropic_upstream.keys_seen == [anthropic_upstream.api_key]
    assert result.content == DEFAULT_REPLY
    assert result.finish_reason == "stop"
    assert result.usage == Usage(expected_prompt_tokens(), count_words(DEFAULT_REPLY))


def test_complete_merges_roles_and_maps_parameters(anthropic_upstream):
    """Same-role turns merge, list contents keep text, parameters are renamed."""
    request = make_request(
        messages=[
            {"role": "developer", "content": "Rule one."},
            {"role": "system", "content": "Rule two."},
            {"role": "user", "content": [{"type": "text", "text": "Part A"}]},
            {"role": "user", "content": "Part B"},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": "Go on."},
        ],
        temperature=1.7,
        top_p=0.5,
        stop=["END"],
    )

    complete(make_provider(anthropic_upstream), request)

    body = anthropic_upstream.requests[0]["body"]
    assert body["system"] == "Rule one.\n\nRule two."
    assert body["messages"] == [
        {"role": "user", "content": "Part A\n\nPart B"},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "Go on."},
    ]
    assert body["temperature"] == 1.0
    assert body["top_p"] == 0.5
    assert body["stop_sequences"] == ["END"]


def test_complete_max_tokens_reached_finishes_with_length(anthropic_upstream):
    """``stop_reason: max_tokens`` becomes ``finish_reason: length``."""
    result = complete(make_provider(anthropic_upstream), make_request(max_tokens=3))

    assert result.finish_reason == "length"
    assert result.content == "Hello from the"
    assert result.usage.completion_tokens == 3


def test_complete_stop_sequence_finishes_with_stop(anthropic_upstream):
    """``stop_reason: stop_sequence`` becomes ``finish_reason: stop``."""
    result = complete(make_provider(anthropic_upstream), make_request(stop=["fake"]))

    assert result.finish_reason == "stop"
    assert result.content == "Hello from the"


def test_stream_yields_words_then_usage(anthropic_upstream):
    """Each text delta is a ``StreamDelta``; the last carries finish and usage."""
    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert error is None
    assert "".join(d.content for d in deltas) == DEFAULT_REPLY
    assert deltas[-1] == StreamDelta(
        finish_reason="stop",
        usage=Usage(expected_prompt_tokens(), count_words(DEFAULT_REPLY)),
    )
    assert all(d.usage is None for d in deltas[:-1])
    assert anthropic_upstream.requests[0]["body"]["stream"] is True


def test_stream_max_tokens_reports_length(anthropic_upstream):
    """A stream cut by ``max_tokens`` ends with ``length`` and its real usage."""
    deltas, _ = collect(make_provider(anthropic_upstream), make_request(max_tokens=2))

    assert [d.content for d in deltas[:-1]] == ["Hello", " from"]
    assert deltas[-1].finish_reason == "length"
    assert deltas[-1].usage.completion_tokens == 2


def test_complete_each_call_on_its_own_connection(anthropic_upstream):
    """Several calls on one adapter never share a connection."""
    provider = make_provider(anthropic_upstream)

    async def run():
        try:
            for _ in range(3):
                await provider.complete(make_request())
        finally:
            await provider.aclose()

    asyncio.run(run())
    assert [r["headers"]["connection"] for r in anthropic_upstream.requests] == [
        "close"
    ] * 3


def test_complete_auth_error_is_not_retried(anthropic_upstream):
    """A 401 becomes ``UpstreamError`` (status 401) after one request."""
    provider = make_provider(anthropic_upstream, api_key=lambda: "sk-ant-wrong-key-123")

    with pytest.raises(UpstreamError) as info:
        complete(provider, make_request())

    assert info.value.status == 401
    assert info.value.message == "anthropic: authentication_error: invalid x-api-key"
    assert len(anthropic_upstream.requests) == 1


def test_complete_overloaded_once_is_retried(anthropic_upstream):
    """One 529 before any byte is retried once, and the retry succeeds."""
    anthropic_upstream.fail_next = [(529, "overloaded_error", "Overloaded")]

    result = complete(make_provider(anthropic_upstream), make_request())

    assert result.content == DEFAULT_REPLY
    assert len(anthropic_upstream.requests) == 2


def test_complete_server_error_twice_fails_after_one_retry(anthropic_upstream):
    """Two 500s: one retry only, then ``UpstreamError`` with status 500."""
    anthropic_upstream.fail_next = [(500, "api_error", "Internal error")] * 3

    with pytest.raises(UpstreamError) as info:
        complete(make_provider(anthropic_upstream), make_request())

    assert not isinstance(info.value, UpstreamTimeout)
    assert info.value.status == 500
    assert info.value.message == "anthropic: api_error: Internal error"
    assert len(anthropic_upstream.requests) == 2


def test_complete_bad_request_is_not_retried(anthropic_upstream):
    """A 400 is the caller's problem: no retry, the upstream message is kept."""
    anthropic_upstream.fail_next = [(400, "invalid_request_error", "max_tokens: bad")]

    with pytest.raises(UpstreamError) as info:
        complete(make_provider(anthropic_upstream), make_request())

    assert info.value.status == 400
    assert info.value.message == "anthropic: invalid_request_error: max_tokens: bad"
    assert len(anthropic_upstream.requests) == 1


def test_complete_error_quoting_the_key_is_redacted(anthropic_upstream, caplog):
    """An upstream message that quotes the key reaches neither logs nor errors."""
    caplog.set_level(logging.DEBUG)
    key = anthropic_upstream.api_key
    anthropic_upstream.fail_next = [(403, "permission_error", f"key {key} lacks scope")]

    with pytest.raises(UpstreamError) as info:
        complete(make_provider(anthropic_upstream), make_request())

    assert (
        info.value.message == "anthropic: permission_error: key [redacted] lacks scope"
    )
    assert key not in caplog.text
    assert PROMPT not in caplog.text


def test_complete_hanging_upstream_times_out_without_retry(anthropic_upstream):
    """No answer within the read timeout: ``UpstreamTimeout``, not retried."""
    anthropic_upstream.hang = True

    with pytest.raises(UpstreamTimeout) as info:
        complete(make_provider(anthropic_upstream, read_timeout=0.3), make_request())

    assert info.value.message == "anthropic: read timeout"
    assert len(anthropic_upstream.requests) == 1


def test_complete_refused_connection_is_upstream_error():
    """Nothing listening: ``UpstreamError`` (502), not a timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    upstream = SimpleNamespace(url=f"http://127.0.0.1:{port}", api_key="sk-ant-x")

    with pytest.raises(UpstreamError) as info:
        complete(make_provider(upstream), make_request())

    assert not isinstance(info.value, UpstreamTimeout)
    assert info.value.message == "anthropic: connection failed (ConnectError)"


def test_complete_without_key_raises_ai_not_configured(anthropic_upstream):
    """A provider without a key is not configured; nothing is sent."""
    with pytest.raises(ProviderNotConfigured):
        complete(
            make_provider(anthropic_upstream, api_key=lambda: None), make_request()
        )

    assert anthropic_upstream.requests == []


def test_stream_error_before_first_delta_is_retried(anthropic_upstream):
    """An ``overloaded_error`` event before any text is retried once."""
    anthropic_upstream.error_after = 0
    anthropic_upstream.error_times = 1

    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert error is None
    assert "".join(d.content for d in deltas) == DEFAULT_REPLY
    assert len(anthropic_upstream.requests) == 2


def test_stream_error_before_first_delta_twice_fails(anthropic_upstream):
    """The pre-stream retry happens once: a second failure is raised."""
    anthropic_upstream.error_after = 0

    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert deltas == []
    assert error.status == 529
    assert len(anthropic_upstream.requests) == 2


def test_stream_error_after_text_is_not_retried(anthropic_upstream):
    """Once text was yielded, a failure ends the stream with ``UpstreamError``."""
    anthropic_upstream.error_after = 3

    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert "".join(d.content for d in deltas) == "Hello from the"
    assert error.status == 529
    assert error.message == "anthropic: overloaded_error: Overloaded"
    assert len(anthropic_upstream.requests) == 1


def test_stream_connection_dropped_midway_is_upstream_error(anthropic_upstream):
    """A stream the upstream drops mid-answer raises after the text produced."""
    anthropic_upstream.cut_after = 2

    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert [d.content for d in deltas] == ["Hello", " from"]
    assert isinstance(error, UpstreamError)
    assert not isinstance(error, UpstreamTimeout)


def test_stream_slow_chunks_time_out(anthropic_upstream):
    """A gap between deltas longer than the read timeout: ``UpstreamTimeout``."""
    anthropic_upstream.chunk_delay = 0.5

    deltas, error = collect(
        make_provider(anthropic_upstream, read_timeout=0.2), make_request()
    )

    assert deltas == []
    assert isinstance(error, UpstreamTimeout)


def test_stream_closed_by_consumer_cancels_upstream(anthropic_upstream):
    """Closing the iterator early closes the upstream connection mid-stream."""
    anthropic_upstream.chunk_delay = 0.05
    anthropic_upstream.reply = " ".join(["word"] * 100)

    deltas, error = collect(make_provider(anthropic_upstream), make_request(), limit=2)

    assert len(deltas) == 2
    assert error is None
    assert anthropic_upstream.cancelled.wait(5)
    assert not anthropic_upstream.finished.is_set()


def test_stream_keeps_unicode_line_separators(anthropic_upstream):
    """Text deltas holding U+2028, U+2029 or U+0085 arrive whole, none dropped."""
    anthropic_upstream.reply = "one\u2028two three\u2029four five\u0085six"

    deltas, error = collect(make_provider(anthropic_upstream), make_request())

    assert error is None
    assert "".join(d.content for d in deltas) == anthropic_upstream.reply
    assert "\u2028two" in [d.content for d in deltas]


def test_stream_past_the_total_deadline_times_out(anthropic_upstream):
    """Deltas that keep coming under the read timeout stop at the total deadline."""
    anthropic_upstream.chunk_delay = 0.05
    anthropic_upstream.reply = " ".join(["word"] * 100)

    deltas, error = collect(
        make_provider(anthropic_upstream, total_timeout=0.5), make_request()
    )

    assert isinstance(error, UpstreamTimeout)
    assert error.message == "anthropic: total timeout"
    assert 0 < len(deltas) < 100


def test_complete_answer_past_the_cap_is_upstream_error(anthropic_upstream, settings):
    """An answer larger than AI_UPSTREAM_MAX_RESPONSE_BYTES is refused (502)."""
    settings.AI_UPSTREAM_MAX_RESPONSE_BYTES = 200

    with pytest.raises(UpstreamError) as info:
        complete(make_provider(anthropic_upstream), make_request())

    assert not isinstance(info.value, UpstreamTimeout)
    assert info.value.message == "anthropic: answer too large"
