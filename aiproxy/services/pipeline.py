"""The completion pipeline: prepare (reserve), call the provider, settle.

A request goes: :func:`completion_prepare` (resolve the model, count the
prompt, reserve the worst case in the database), then the provider call
(:func:`completion_create` or :func:`completion_stream`, async, no
transaction open), then its settlement (charge what was really produced,
release the rest, finish the ledger row) before the answer's last byte.
"""

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from aiproxy import providers, tokens
from aiproxy.adapters.base import (
    ChatRequest,
    Provider,
    ProviderNotConfigured,
    StreamDelta,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from aiproxy.models import UsageRecord
from aiproxy.selectors import ai_model_get_enabled
from aiproxy.services.calls import PreparedCall, charged_usage, elapsed_ms
from aiproxy.services.quota import quota_reserve
from aiproxy.services.refusals import Asked, refusals_recorded
from aiproxy.services.settlement import settle, settle_shielded
from aiproxy.wire import ChatParams, ChunkWriter, completion_id, completion_json
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User
    from documents.models import Document

KEYED_KINDS = {"openai", "anthropic"}
Status = UsageRecord.Status


def _not_configured() -> ApplicationError:
    return ApplicationError(
        str(_("The AI provider is not configured.")),
        code="ai_not_configured",
        status=503,
    )


def _context_exceeded(field: str, detail: str) -> ApplicationError:
    return ApplicationError(
        detail, code="context_length_exceeded", extra={"fields": {field: [detail]}}
    )


def completion_prepare(
    *,
    user: "User",
    params: ChatParams,
    document: "Document | None" = None,
    action: str = "",
) -> PreparedCall:
    """Resolve the model, size the request and reserve its worst case.

    A refusal (unknown model, too long, over quota...) leaves a ``refused``
    ledger row with its code.
    """
    started = time.perf_counter()
    asked = Asked(
        model_name=params.model,
        is_stream=params.stream,
        document=document,
        action=action,
    )
    with refusals_recorded(user=user, asked=asked):
        return _prepare(
            user=user,
            params=params,
            document=document,
            action=action,
            asked=asked,
            started=started,
        )


def _prepare(
    *,
    user: "User",
    params: ChatParams,
    document: "Document | None",
    action: str,
    asked: Asked,
    started: float,
) -> PreparedCall:
    model = ai_model_get_enabled(name=params.model)
    asked.model = model
    try:
        config = providers.provider_config(model.provider)
    except ProviderNotConfigured:
        raise _not_configured() from None
    if config.kind in KEYED_KINDS:
        providers.provider_key(model.provider)  # 503 now rather than mid-call
    exact = tokens.prompt_tokens_exact(params.messages)
    prompt = tokens.with_margin(exact)
    room = model.context_limit - prompt
    if room < 1:
        raise _context_exceeded(
            "messages",
            str(
                _(
                    "The messages are longer than the model's context (%(limit)s tokens)."
                )
            )
            % {"limit": model.context_limit},
        )
    if params.max_tokens is None:
        max_tokens = min(settings.AI_MAX_TOKENS_DEFAULT, model.max_output_tokens, room)
    else:
        max_tokens = params.max_tokens
        if max_tokens > model.max_output_tokens:
            detail = str(_("Must be at most %(limit)s for this model.")) % {
                "limit": model.max_output_tokens
            }
            raise ApplicationError(
                detail, code="invalid", extra={"fields": {"max_tokens": [detail]}}
            )
        if max_tokens > room:
            raise _context_exceeded(
                "max_tokens",
                str(_("The messages plus max_tokens exceed the context (%(limit)s)."))
                % {"limit": model.context_limit},
            )
    reservation = quota_reserve(
        user=user,
        model=model,
        tokens_needed=prompt + max_tokens,
        is_stream=params.stream,
        document=document,
        action=action,
    )
    request = ChatRequest(
        model=model.upstream_model,
        messages=params.messages,
        max_tokens=max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        stop=params.stop,
        extra=params.extra,
    )
    return PreparedCall(
        model_name=model.name,
        provider=model.provider,
        request=request,
        reservation=reservation,
        prompt_estimate=exact,
        started=started,
    )


def _upstream_failure(exc: UpstreamError) -> tuple[str, str, ApplicationError]:
    if isinstance(exc, UpstreamTimeout):
        return (
            Status.TIMEOUT,
            "upstream_timeout",
            ApplicationError(
                str(_("The AI provider did not answer in time.")),
                code="upstream_timeout",
                status=504,
            ),
        )
    detail = str(_("The AI provider failed: %(reason)s")) % {"reason": exc.message}
    return (
        Status.ERROR,
        "upstream_error",
        ApplicationError(detail, code="upstream_error", status=502),
    )


async def _provider(call: PreparedCall) -> Provider:
    try:
        return providers.provider_get(call.provider)
    except ProviderNotConfigured:
        await settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None


async def completion_create(*, call: PreparedCall) -> dict[str, Any]:
    """Call the provider for the whole answer; settle; return the OpenAI JSON."""
    provider = await _provider(call)
    try:
        result = await provider.complete(call.request)
    except ProviderNotConfigured:
        await settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None
    except UpstreamError as exc:
        status, code, error = _upstream_failure(exc)
        await settle(call, status=status, usage=Usage(0, 0), error_code=code)
        raise error from None
    except BaseException:
        await settle_shielded(
            call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
        )
        raise
    usage = charged_usage(call, result.usage, result.content)
    ttft_ms = elapsed_ms(call)
    await settle(call, status=Status.OK, usage=usage, ttft_ms=ttft_ms)
    return completion_json(
        id=completion_id(),
        model=call.model_name,
        content=result.content,
        finish_reason=result.finish_reason,
        usage=usage,
    )


async def completion_stream(
    *, call: PreparedCall, include_usage: bool = False
) -> AsyncIterator[bytes]:
    """Open the provider's stream and return the SSE events to send.

    The first delta is awaited here, so a failure before any output is still
    a proper 502/504 answer; later failures end the stream with an error
    event. However it ends, the request is settled for what was streamed.
    """
    provider = await _provider(call)
    deltas = provider.stream(call.request)
    try:
        first = await anext(deltas, None)
    except ProviderNotConfigured:
        await deltas.aclose()
        await settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None
    except UpstreamError as exc:
        await deltas.aclose()
        status, code, error = _upstream_failure(exc)
        await settle(call, status=status, usage=Usage(0, 0), error_code=code)
        raise error from None
    except BaseException:
        await settle_shielded(
            call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
        )
        await deltas.aclose()
        raise
    events = _events(call, deltas, first, include_usage, elapsed_ms(call))
    # Started now, so its ``finally`` (close upstream, settle) runs even if the
    # client leaves before the server iterates it: a started async generator
    # is closed by the event loop's finaliser when dropped.
    head = await anext(events)
    return _resumed(head, events)


async def _resumed(head: bytes, events: AsyncGenerator[bytes]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(events):
        yield head
        async for event in events:
            yield event


async def _events(
    call: PreparedCall,
    deltas: AsyncGenerator[StreamDelta],
    first: StreamDelta | None,
    include_usage: bool,
    ttft_ms: int,
) -> AsyncGenerator[bytes]:
    writer = ChunkWriter(id=completion_id(), model=call.model_name)
    parts: list[str] = []
    usage: Usage | None = None
    finish: str | None = None
    status, error_code = Status.CANCELLED, "cancelled"
    try:
        yield writer.delta({"role": "assistant", "content": ""})
        delta = first
        while delta is not None:
            if delta.content:
                parts.append(delta.content)
                yield writer.delta({"content": delta.content})
            finish = delta.finish_reason or finish
            usage = delta.usage or usage
            delta = await anext(deltas, None)
        status, error_code = Status.OK, ""
        yield writer.delta({}, finish or "stop")
        if include_usage:
            yield writer.usage(charged_usage(call, usage, "".join(parts)))
        yield writer.done()
    except UpstreamError as exc:
        status, error_code, error = _upstream_failure(exc)
        yield ChunkWriter.error(str(error.detail), error_code)
    finally:
        await deltas.aclose()  # closes the upstream connection: cancels it
        await settle_shielded(
            call,
            status=status,
            usage=charged_usage(call, usage, "".join(parts)),
            error_code=error_code,
            ttft_ms=ttft_ms,
        )
