"""The AWS Bedrock adapter: Converse and ConverseStream through boto3.

boto3 is synchronous, so every call runs on a dedicated thread pool (never
on the event loop, and not on asyncio's small default executor, which a few
long streams would exhaust). A stream holds one pool thread only while it
waits for its next event; ``options["max_concurrency"]`` (default 64) sizes
both the pool and botocore's connection pool.

Credentials and endpoint come from boto3's standard chain: the task role in
production; in tests ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` points at a fake on
loopback. No API key is used. The region is ``options["region"]``
(``AI_<NAME>_REGION``), else boto3's default (``AWS_REGION``).

Translation mirrors the Anthropic adapter: system messages go to ``system``,
same-role turns merge, ``stop`` → ``stopSequences``; ``stopReason`` →
``finish_reason``; usage adds cache reads and writes to the prompt.

Retries are this module's, not botocore's (which is set to one attempt):
one retry, before any event was yielded, for refused or timed-out
connections, throttling and 5xx answers; never for a read timeout, since the
model may already be generating (and billing) the first answer.
"""

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeout

from aiproxy.adapters.base import (
    ChatRequest,
    ChatResult,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.adapters.openai_compat import sanitise

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_CONCURRENCY = 64
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "throttlingException",
        "serviceUnavailableException",
        "internalServerException",
    }
)
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_END = object()


def finish_reason(stop_reason: str | None) -> str:
    """Return the OpenAI ``finish_reason`` of a Converse ``stopReason``."""
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


@functools.cache
def _client(region: str, connect: float, read: float, pool: int) -> Any:
    # One client per process and configuration: boto3 clients are
    # thread-safe and building one reads config files.
    config = Config(
        connect_timeout=connect,
        read_timeout=read,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=pool,
        user_agent_extra="quire-aiproxy",
    )
    session = boto3.session.Session()  # its own credential cache
    return session.client("bedrock-runtime", region_name=region or None, config=config)


_executor_lock = threading.Lock()
_executors: dict[int, ThreadPoolExecutor] = {}


def _executor(size: int) -> ThreadPoolExecutor:
    with _executor_lock:
        if size not in _executors:
            _executors[size] = ThreadPoolExecutor(
                max_workers=size, thread_name_prefix="bedrock"
            )
        return _executors[size]


def cache_clear() -> None:
    """Forget the cached boto3 clients (tests that move the endpoint)."""
    _client.cache_clear()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "input_text")
        )
    return "" if content is None else str(content)


def converse_kwargs(request: ChatRequest) -> dict[str, Any]:
    """Return the ``converse``/``converse_stream`` arguments of ``request``."""
    system: list[dict[str, str]] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.get("role")
        text = _text(message.get("content"))
        if not text:
            continue
        if role in ("system", "developer"):
            system.append({"text": text})
            continue
        role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"][0]["text"] += "\n\n" + text
        else:
            turns.append({"role": role, "content": [{"text": text}]})
    inference: dict[str, Any] = {"maxTokens": request.max_tokens}
    if request.temperature is not None:
        inference["temperature"] = min(max(float(request.temperature), 0.0), 1.0)
    if request.top_p is not None:
        inference["topP"] = float(request.top_p)
    if request.stop:
        inference["stopSequences"] = list(request.stop)
    kwargs: dict[str, Any] = {
        "modelId": request.model,
        "messages": turns,
        "inferenceConfig": inference,
    }
    if system:
        kwargs["system"] = system
    return kwargs


def _usage(data: dict[str, Any] | None) -> Usage:
    data = data or {}
    prompt = sum(
        int(data.get(field) or 0)
        for field in ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    )
    return Usage(
        prompt_tokens=prompt, completion_tokens=int(data.get("outputTokens") or 0)
    )


class BedrockProvider:
    """Speak Bedrock's Converse API; ``config`` is a ``ProviderConfig``."""

    def __init__(self, config: Any) -> None:
        self.name: str = config.name
        options = dict(getattr(config, "options", None) or {})
        self._region = str(options.get("region") or "")
        self._size = int(options.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY)
        self._connect = float(config.connect_timeout)
        self._read = float(config.read_timeout)
        self._max_retries = max(0, int(getattr(config, "max_retries", 1)))
        self._retry_backoff = float(options.get("retry_backoff", 0.2))

    async def aclose(self) -> None:
        """Nothing to release: the boto3 client is shared by the process."""

    async def _run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(func, *args, **kwargs)
        return await loop.run_in_executor(_executor(self._size), call)

    def _client(self) -> Any:
        try:
            return _client(self._region, self._connect, self._read, self._size)
        except NoRegionError:
            logger.error(
                "AI provider %s has no region: set AI_<NAME>_REGION", self.name
            )
            raise ProviderNotConfigured(self.name) from None

    def _error(self, exc: Exception) -> UpstreamError:
        """Return the ``UpstreamError`` for a botocore failure; raise if config."""
        if isinstance(exc, NoCredentialsError):
            logger.error("AI provider %s has no AWS credentials", self.name)
            raise ProviderNotConfigured(self.name) from None
        if isinstance(exc, ReadTimeoutError | Urllib3ReadTimeout | TimeoutError):
            logger.warning("upstream %s read timeout", self.name)
            return UpstreamTimeout(f"{self.name}: read timeout")
        if isinstance(exc, ConnectTimeoutError):
            logger.warning("upstream %s connect timeout", self.name)
            return _retryable(UpstreamTimeout(f"{self.name}: connect timeout"))
        if isinstance(exc, ClientError):
            error = exc.response.get("Error") or {}
            code = str(error.get("Code") or "error")
            status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
            if not status or status == 200:  # an exception event inside a stream
                status = 429 if code.lower().startswith("throttling") else 502
            text = sanitise(f"{self.name}: {code}: {error.get('Message') or ''}")
            logger.warning("upstream %s answered %s: %s", self.name, status, text)
            result = UpstreamError(text, status=int(status))
            if status in RETRYABLE_STATUSES or code in RETRYABLE_CODES:
                return _retryable(result)
            return result
        kind = type(exc).__name__
        logger.warning("upstream %s unreachable (%s)", self.name, kind)
        result = UpstreamError(f"{self.name}: connection failed ({kind})")
        if isinstance(exc, EndpointConnectionError) and not isinstance(
            exc, ConnectionClosedError
        ):
            return _retryable(result)
        return result

    async def _call_once(self, method: str, kwargs: dict[str, Any]) -> Any:
        client = self._client()
        try:
            return await self._run(getattr(client, method), **kwargs)
        except (BotoCoreError, ClientError, Urllib3Error, OSError) as exc:
            raise self._error(exc) from None

    def _may_retry(self, error: UpstreamError, attempt: int) -> bool:
        if attempt >= self._max_retries or not getattr(error, "retryable", False):
            return False
        logger.info("retrying %s after: %s", self.name, error.message)
        return True

    async def complete(self, request: ChatRequest) -> ChatResult:
        """Return the whole answer of one Converse call."""
        kwargs = converse_kwargs(request)
        for attempt in range(self._max_retries + 1):
            try:
                data = await self._call_once("converse", kwargs)
                break
            except UpstreamError as error:
                if not self._may_retry(error, attempt):
                    raise
                await asyncio.sleep(self._retry_backoff)
        blocks = ((data.get("output") or {}).get("message") or {}).get("content") or []
        return ChatResult(
            content="".join(str(b.get("text", "")) for b in blocks if "text" in b),
            finish_reason=finish_reason(data.get("stopReason")),
            usage=_usage(data.get("usage")),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        """Yield text deltas of one ConverseStream call; the last carries usage."""
        kwargs = converse_kwargs(request)
        for attempt in range(self._max_retries + 1):
            yielded = False
            events = None
            try:
                response = await self._call_once("converse_stream", kwargs)
                events = response["stream"]
                async with aclosing(self._deltas(events)) as deltas:
                    async for delta in deltas:
                        yielded = True
                        yield delta
                return
            except UpstreamError as error:
                if yielded or not self._may_retry(error, attempt):
                    raise
            finally:
                if events is not None:
                    # Closing the HTTP response cancels the request upstream.
                    events.close()
            await asyncio.sleep(self._retry_backoff)

    async def _deltas(self, events: Any) -> AsyncIterator[StreamDelta]:
        iterator = iter(events)
        stop_reason: str | None = None
        usage: Usage | None = None
        while True:
            try:
                event = await self._run(next, iterator, _END)
            except (BotoCoreError, ClientError, Urllib3Error, OSError) as exc:
                raise self._error(exc) from None
            if event is _END:
                break
            if "contentBlockDelta" in event:
                text = (event["contentBlockDelta"].get("delta") or {}).get("text")
                if text:
                    yield StreamDelta(content=str(text))
            elif "messageStop" in event:
                stop_reason = event["messageStop"].get("stopReason")
            elif "metadata" in event:
                usage = _usage(event["metadata"].get("usage"))
        if stop_reason is None and usage is None:
            raise UpstreamError(f"{self.name}: the stream ended early")
        yield StreamDelta(
            finish_reason=finish_reason(stop_reason), usage=usage or Usage(0, 0)
        )


def _retryable(error: UpstreamError) -> UpstreamError:
    error.retryable = True  # type: ignore[attr-defined]
    return error
