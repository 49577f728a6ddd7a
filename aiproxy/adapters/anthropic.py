"""The Anthropic Messages API adapter (``POST /v1/messages``), streaming included.

Translation, OpenAI-shaped in and out:

- ``system`` (and ``developer``) messages become the top-level ``system``
  text; consecutive messages of one role are merged, as the API wants turns
  to alternate; list contents keep their text parts.
- ``stop`` → ``stop_sequences``; ``temperature`` is capped at 1.0 (Anthropic's
  range is 0–1, OpenAI's 0–2).
- ``stop_reason`` → ``finish_reason``: ``end_turn``/``stop_sequence`` →
  ``stop``, ``max_tokens`` → ``length``, ``tool_use`` → ``tool_calls``,
  ``refusal`` → ``content_filter``.
- usage: prompt tokens are ``input_tokens`` plus cache reads and writes.

One ``aiproxy.adapters.upstream.UpstreamClient`` per adapter instance (the
registry builds one instance per event loop): aiohttp, one connection per
exchange, size caps, and server-sent events split as the specification says
(``\r\n``, ``\n`` or ``\r`` only, so U+2028 in a text delta is kept).
Connect, read and total timeouts come from the provider's config; a timeout
raises ``UpstreamTimeout``, any other failure ``UpstreamError`` with a
sanitised message. A failure is retried once
(``max_retries``) only while nothing has been yielded and only when a retry
cannot double-bill: refused or timed-out connections, 429, 5xx and 529
("overloaded"), never a read timeout of a request the upstream already holds.
Closing the stream early closes the connection, which cancels the request
upstream.
"""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiproxy.adapters.base import (
    ChatRequest,
    ChatResult,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.adapters.openai_compat import sanitise
from aiproxy.adapters.upstream import (
    AnswerTooLarge,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    ReadTimeout,
    TLSError,
    TransportError,
    UpstreamClient,
    UpstreamResponse,
)
from aiproxy.keys import ProviderKeyMissing

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})
STATUS_OF_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    """Return the OpenAI ``finish_reason`` of an Anthropic ``stop_reason``."""
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        ]
        return "".join(str(part) for part in parts)
    return "" if content is None else str(content)


def messages_body(request: ChatRequest) -> dict[str, Any]:
    """Return the Messages API body for an OpenAI-shaped ``request``."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if role in ("system", "developer"):
            if text:
                system.append(text)
            continue
        role = "assistant" if role == "assistant" else "user"
        if not text:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": text})
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": turns,
    }
    if system:
        body["system"] = "\n\n".join(system)
    if request.temperature is not None:
        body["temperature"] = min(max(float(request.temperature), 0.0), 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    user = request.extra.get("user")
    if isinstance(user, str) and user:
        body["metadata"] = {"user_id": user[:256]}
    return body


def _usage(data: dict[str, Any] | None, output_tokens: int | None = None) -> Usage:
    data = data or {}
    prompt = sum(
        int(data.get(field) or 0)
        for field in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    )
    completion = (
        output_tokens if output_tokens is not None else data.get("output_tokens")
    )
    return Usage(prompt_tokens=prompt, completion_tokens=int(completion or 0))


class _Retry(Exception):
    """A failure before the first byte that may be retried once."""

    def __init__(self, error: UpstreamError) -> None:
        super().__init__(error.message)
        self.error = error


class AnthropicProvider:
    """Speak Anthropic's Messages API; ``config`` is a ``ProviderConfig``."""

    def __init__(self, config: Any) -> None:
        self.name: str = config.name
        self._config = config
        options = dict(getattr(config, "options", None) or {})
        self._version = str(options.get("anthropic_version") or DEFAULT_VERSION)
        self._max_retries = max(0, int(getattr(config, "max_retries", 1)))
        self._retry_backoff = float(options.get("retry_backoff", 0.2))
        self._client = UpstreamClient(
            provider=self.name,
            base_url=config.base_url or DEFAULT_BASE_URL,
            headers={"anthropic-version": self._version, "accept": "application/json"},
            connect_timeout=float(config.connect_timeout),
            read_timeout=float(config.read_timeout),
            total_timeout=float(getattr(config, "total_timeout", 600.0)),
            max_connections=int(options.get("max_connections") or 1000),
            ca_bundle=str(options.get("ca_bundle") or ""),
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def _key(self) -> str:
        # Secrets Manager reads block; the cached path is cheap either way.
        key = await asyncio.to_thread(self._config.api_key)
        if not key:
            raise ProviderKeyMissing(self.name)
        return key

    def _error(self, status: int | None, payload: Any, key: str) -> UpstreamError:
        kind, message = "", ""
        if isinstance(payload, dict):
            error = payload.get("error")
            if isinstance(error, dict):
                kind = str(error.get("type") or "")
                message = str(error.get("message") or "")
        if status is None:
            status = STATUS_OF_ERROR_TYPE.get(kind, 502)
        text = sanitise(
            f"{self.name}: {kind or 'error'}: {message or 'no details'}",
            secrets=(key,),
        )
        logger.warning("upstream %s answered %s: %s", self.name, status, text)
        return UpstreamError(text, status=status)

    def _transport_error(self, exc: TransportError, key: str) -> UpstreamError:
        if isinstance(exc, ConnectTimeout | ReadTimeout):
            what = "read"
            if isinstance(exc, ConnectTimeout):
                what = "connect"
            elif isinstance(exc, DeadlineExceeded):
                what = "total"
            logger.warning("upstream %s %s timeout", self.name, what)
            return UpstreamTimeout(f"{self.name}: {what} timeout")
        if isinstance(exc, AnswerTooLarge):
            logger.warning("upstream %s answer too large", self.name)
            return UpstreamError(f"{self.name}: answer too large")
        logger.warning("upstream %s unreachable (%s)", self.name, type(exc).__name__)
        return UpstreamError(
            sanitise(f"{self.name}: connection failed ({type(exc).__name__})")
        )

    async def _open(self, body: dict[str, Any], key: str) -> UpstreamResponse:
        """Send the request; return a 2xx response whose body is not read yet."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            response = await self._client.post(
                "/v1/messages", body=data, headers={"x-api-key": key}
            )
        except TLSError as exc:
            raise self._transport_error(exc, key) from None
        except (ConnectError, ConnectTimeout) as exc:
            raise _Retry(self._transport_error(exc, key)) from None
        except TransportError as exc:
            raise self._transport_error(exc, key) from None
        if response.status_code < 400:
            return response
        try:
            payload = json.loads(await response.read())
        except (TransportError, ValueError):
            payload = None
        error = self._error(response.status_code, payload, key)
        if response.status_code in RETRYABLE_STATUSES:
            raise _Retry(error)
        raise error

    async def _pause_before(self, attempt: int) -> None:
        if attempt:
            await asyncio.sleep(self._retry_backoff)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer of one Messages API call."""
        key = await self._key()
        body = messages_body(request)
        error: UpstreamError | None = None
        for attempt in range(self._max_retries + 1):
            await self._pause_before(attempt)
            try:
                response = await self._open(body, key)
            except _Retry as retry:
                error = retry.error
                continue
            try:
                data = json.loads(await response.read())
            except TransportError as exc:
                raise self._transport_error(exc, key) from None
            except ValueError:
                raise UpstreamError(f"{self.name}: malformed answer") from None
            return self._result(data, key)
        assert error is not None  # noqa: S101 - the loop ran at least once
        raise error

    def _result(self, data: Any, key: str) -> ChatResult:
        if not isinstance(data, dict) or data.get("type") == "error":
            raise self._error(None, data, key)
        content = "".join(
            str(block.get("text", ""))
            for block in data.get("content") or []
            if isinstance(block, dict) and block.get("type") == "text"
        )
        return ChatResult(
            content=content,
            finish_reason=finish_reason(data.get("stop_reason")),
            usage=_usage(data.get("usage")),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield text deltas as Anthropic streams them; the last carries usage."""
        key = await self._key()
        body = {**messages_body(request), "stream": True}
        error: UpstreamError | None = None
        for attempt in range(self._max_retries + 1):
            await self._pause_before(attempt)
            yielded = False
            try:
                response = await self._open(body, key)
            except _Retry as retry:
                error = retry.error
                continue
            try:
                async with aclosing(self._deltas(response, key)) as deltas:
                    async for delta in deltas:
                        yielded = True
                        yield delta
                return
            except _Retry as retry:
                if yielded:
                    raise retry.error from None
                error = retry.error
            finally:
                response.close()
        assert error is not None  # noqa: S101 - the loop ran at least once
        raise error

    async def _deltas(
        self, response: UpstreamResponse, key: str
    ) -> AsyncIterator[StreamDelta]:
        prompt_usage: dict[str, Any] = {}
        output_tokens = 0
        stop_reason: str | None = None
        try:
            async for data in _sse_data(response):
                kind = data.get("type")
                if kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        yield StreamDelta(content=str(delta["text"]))
                elif kind == "message_start":
                    message = data.get("message") or {}
                    prompt_usage = message.get("usage") or {}
                    output_tokens = int(prompt_usage.get("output_tokens") or 0)
                elif kind == "message_delta":
                    stop_reason = (data.get("delta") or {}).get("stop_reason")
                    usage = data.get("usage") or {}
                    if usage.get("output_tokens") is not None:
                        output_tokens = int(usage["output_tokens"])
                    for field, value in usage.items():
                        if field.endswith("input_tokens") and value is not None:
                            prompt_usage = {**prompt_usage, field: value}
                elif kind == "message_stop":
                    yield StreamDelta(
                        finish_reason=finish_reason(stop_reason),
                        usage=_usage(prompt_usage, output_tokens),
                    )
                    return
                elif kind == "error":
                    error = self._error(None, data, key)
                    if error.status in RETRYABLE_STATUSES:
                        raise _Retry(error)
                    raise error
        except TransportError as exc:
            raise self._transport_error(exc, key) from None
        raise UpstreamError(f"{self.name}: the stream ended early")


async def _sse_data(response: UpstreamResponse) -> AsyncIterator[dict[str, Any]]:
    """Yield the JSON ``data`` of each server-sent event of ``response``."""
    async for event in response.events():
        try:
            data = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(data, dict):
            yield data
