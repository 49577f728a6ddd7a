"""Any OpenAI-compatible chat-completions upstream (OpenAI, vLLM, Groq...).

One upstream client per adapter instance (the registry builds one per event
loop): ``aiproxy.adapters.upstream`` (aiohttp, one connection per exchange,
size caps, server-sent events split as the specification says). Connect,
read and total timeouts come from the provider's config and end as
``UpstreamTimeout``; refused connections and 4xx/5xx as ``UpstreamError``
carrying a sanitised message. A failure is retried once, and only while
nothing of the answer was received and the request may not have reached the
upstream. Closing the stream early closes the upstream connection, which
cancels the upstream request.
"""

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from aiproxy.adapters.base import (
    ChatRequest,
    ChatResult,
    ProviderConfig,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.adapters.upstream import (
    AnswerTooLarge,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    ProtocolError,
    ReadTimeout,
    TLSError,
    TransportError,
    UpstreamClient,
    UpstreamResponse,
)

logger = logging.getLogger(__name__)

_SECRETISH = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+\S+|[A-Za-z0-9_\-]{32,}|AKIA[0-9A-Z]{12,})"
)
MAX_MESSAGE_CHARS = 200
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def sanitise(message: str, *, secrets: tuple[str, ...] = ()) -> str:
    """Return an upstream error message safe to show: no keys, short, one line."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    message = _SECRETISH.sub("[redacted]", message)
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 1] + "…"
    return message


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:MAX_MESSAGE_CHARS]
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("detail") or "")
        return str(error)
    return ""


class _Retryable(Exception):
    def __init__(self, error: UpstreamError) -> None:
        self.error = error


class OpenAICompatProvider:
    """Speak ``POST {base_url}/chat/completions`` with a bearer key."""

    def __init__(self, config: ProviderConfig) -> None:
        if not config.base_url:
            raise ProviderNotConfigured(config.name)
        self.name = config.name
        self.config = config
        self.client = UpstreamClient(
            provider=config.name,
            base_url=config.base_url,
            headers={"Accept": "application/json"},
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            total_timeout=config.total_timeout,
            max_connections=int(config.options.get("max_connections") or 1000),
            ca_bundle=str(config.options.get("ca_bundle") or ""),
        )

    # -- request shaping -------------------------------------------------------

    def _headers(self) -> tuple[dict[str, str], str]:
        key = self.config.api_key() or ""
        return ({"Authorization": "Bearer " + key} if key else {}), key

    def _body(self, request: ChatRequest, *, stream: bool) -> bytes:
        body: dict[str, Any] = {
            **request.extra,
            "model": request.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
        }
        for name in ("temperature", "top_p", "stop"):
            value = getattr(request, name)
            if value is not None:
                body[name] = value
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()

    def _status_error(self, response: UpstreamResponse, body: bytes, key: str) -> Any:
        message = sanitise(_error_message(body), secrets=(key,))
        text = f"Upstream answered {response.status_code}" + (
            f": {message}" if message else "."
        )
        error = UpstreamError(text, status=response.status_code)
        if response.status_code in RETRY_STATUSES:
            return _Retryable(error)
        return error

    def _transport_error(self, exc: TransportError) -> Any:
        """Map a transport failure; retry only if the request never got through.

        A read timeout or a dropped response may come after the upstream
        started (and billed) a generation, so it is not retried.
        """
        if isinstance(exc, ConnectTimeout):
            return _Retryable(UpstreamTimeout("Upstream connect timed out."))
        if isinstance(exc, DeadlineExceeded):
            return UpstreamTimeout("Upstream did not finish before the deadline.")
        if isinstance(exc, ReadTimeout):
            return UpstreamTimeout("Upstream read timed out.")
        if isinstance(exc, TLSError):
            return UpstreamError("Upstream TLS certificate not trusted.")
        if isinstance(exc, ConnectError):
            return _Retryable(UpstreamError("Upstream could not be reached."))
        if isinstance(exc, AnswerTooLarge):
            return UpstreamError("Upstream answer too large.")
        if isinstance(exc, ProtocolError):
            return UpstreamError(exc.message)
        return UpstreamError("Upstream connection failed.")

    # -- the two calls ---------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer, retrying once on a transient failure."""
        attempts = 1 + max(0, self.config.max_retries)
        for attempt in range(attempts):
            try:
                return await self._complete_once(request)
            except _Retryable as retry:
                if attempt + 1 >= attempts:
                    raise retry.error from None
                logger.info("retrying %s after: %s", self.name, retry.error.message)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _complete_once(self, request: ChatRequest) -> ChatResult:
        headers, key = self._headers()
        try:
            response = await self.client.post(
                "chat/completions",
                body=self._body(request, stream=False),
                headers=headers,
            )
            content = await response.read()
        except TransportError as exc:
            raise self._transport_error(exc) from None
        if response.status_code >= 400:
            raise self._status_error(response, content, key)
        try:
            data = json.loads(content)
            choice = data["choices"][0]
            content = choice["message"].get("content") or ""
            usage = data.get("usage") or {}
            return ChatResult(
                content=content,
                finish_reason=choice.get("finish_reason") or "stop",
                usage=Usage(
                    int(usage.get("prompt_tokens") or 0),
                    int(usage.get("completion_tokens") or 0),
                ),
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise UpstreamError("Upstream sent a malformed answer.") from None

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield deltas from the upstream SSE stream; the last carries usage.

        A failure before the first delta is retried once; after it, the error
        is raised to the caller, who settles for what was streamed.
        """
        attempts = 1 + max(0, self.config.max_retries)
        for attempt in range(attempts):
            started = False
            try:
                async with aclosing(self._stream_once(request)) as deltas:
                    async for delta in deltas:
                        started = True
                        yield delta
                return
            except _Retryable as retry:
                if started or attempt + 1 >= attempts:
                    raise retry.error from None
                logger.info("retrying %s after: %s", self.name, retry.error.message)

    async def _stream_once(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        headers, key = self._headers()
        body = self._body(request, stream=True)
        usage: Usage | None = None
        finish: str | None = None
        started = done = False
        try:
            response = await self.client.post(
                "chat/completions", body=body, headers=headers
            )
            async with response:
                if response.status_code >= 400:
                    raise self._status_error(response, await response.read(), key)
                async for event in response.events():
                    payload = event.data
                    if payload.strip() == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = json.loads(payload)
                    except ValueError:
                        raise UpstreamError(
                            "Upstream sent a malformed chunk."
                        ) from None
                    if chunk.get("error"):
                        message = sanitise(
                            _error_message(payload.encode()), secrets=(key,)
                        )
                        raise UpstreamError("Upstream failed: " + message)
                    if chunk.get("usage"):
                        raw = chunk["usage"]
                        usage = Usage(
                            int(raw.get("prompt_tokens") or 0),
                            int(raw.get("completion_tokens") or 0),
                        )
                    for choice in chunk.get("choices") or []:
                        content = (choice.get("delta") or {}).get("content") or ""
                        finish = choice.get("finish_reason") or finish
                        if content:
                            started = True
                            yield StreamDelta(content=content)
        except TransportError as exc:
            error = self._transport_error(exc)
            if isinstance(error, _Retryable) and started:
                error = error.error
            raise error from None
        if not done and finish is None:
            raise UpstreamError("Upstream closed the stream early.")
        yield StreamDelta(finish_reason=finish or "stop", usage=usage)

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self.client.aclose()
