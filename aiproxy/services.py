"""Quota reservation and settlement, and the completion pipeline.

A request goes: :func:`completion_prepare` (resolve the model, count the
prompt, reserve the worst case in the database), then the provider call
(:func:`completion_create` or :func:`completion_stream`, async, no
transaction open), then :func:`quota_settle` (charge what was really
produced, release the rest, finish the ledger row). The reservation is one
conditional ``UPDATE`` on the user's month row, so concurrent requests on
any number of processes cannot overspend: PostgreSQL re-checks the condition
on the locked row.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from asgiref.sync import sync_to_async

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
from aiproxy.models import AIModel, QuotaCounter, UsageRecord, UserQuota
from aiproxy.selectors import (
    QuotaLimits,
    ai_model_get_enabled,
    period_end_for,
    period_start_for,
    quota_limits_for,
    usage_list_for,
)
from aiproxy.wire import ChatParams, ChunkWriter, completion_id, completion_json
from project import metrics
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User
    from documents.models import Document

logger = logging.getLogger(__name__)
T = TypeVar("T")
KEYED_KINDS = {"openai", "anthropic"}
Status = UsageRecord.Status
_background: set[asyncio.Task] = set()


# -- database access from async code -----------------------------------------


async def run_db(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(**kwargs)`` (ORM work) off the event loop.

    With ``AI_DB_THREAD_SENSITIVE`` off (serving), calls run on the loop's
    thread pool, so many streams settle in parallel instead of queueing on
    Django's single thread-sensitive thread; each pool thread keeps its own
    connection, checked like a request's.
    """
    thread_sensitive = settings.AI_DB_THREAD_SENSITIVE

    def call() -> T:
        if not thread_sensitive:
            close_old_connections()
        return fn(**kwargs)

    return await sync_to_async(call, thread_sensitive=thread_sensitive)()


# -- quota -------------------------------------------------------------------


def _relaxed_durability() -> None:
    """Let this transaction's commit return before its WAL reaches the disk.

    Quota and ledger rows are bookkeeping: a crash may lose the last fraction
    of a second of them (a request in flight then goes uncharged), never
    their consistency; locks and visibility are unchanged. It saves a disk
    flush per commit, two per AI request (PostgreSQL only).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request in flight, and the ledger row to finish."""

    record_id: Any
    user_id: Any
    period_start: dt.date
    reserved_tokens: int
    input_price: Decimal
    output_price: Decimal


def _counter_take(
    *,
    user: "User",
    start: dt.date,
    minute: dt.datetime,
    needed: int,
    limits: QuotaLimits,
    now: dt.datetime,
) -> int:
    same_minute = Q(minute_start=minute)
    return (
        QuotaCounter.objects.filter(
            user=user,
            period_start=start,
            used_tokens__lte=Value(limits.tokens_per_month - needed)
            - F("reserved_tokens"),
        )
        .filter(
            ~same_minute
            | Q(minute_start__isnull=True)
            | Q(minute_requests__lt=limits.requests_per_minute)
        )
        .update(
            reserved_tokens=F("reserved_tokens") + needed,
            minute_requests=Case(
                When(same_minute, then=F("minute_requests") + 1), default=Value(1)
            ),
            minute_start=minute,
            updated_at=now,
        )
    )


def _over_limit(
    *,
    user: "User",
    start: dt.date,
    needed: int,
    limits: QuotaLimits,
    now: dt.datetime,
) -> ApplicationError:
    counter = QuotaCounter.objects.get(user=user, period_start=start)
    remaining = max(
        0, limits.tokens_per_month - counter.used_tokens - counter.reserved_tokens
    )
    if needed > remaining:
        wait = math.ceil((period_end_for(start) - now).total_seconds())
        return ApplicationError(
            str(_("AI token quota exceeded for this month.")),
            code="quota_exceeded",
            status=429,
            extra={"tokens_remaining": remaining, "tokens_requested": needed},
            headers={"Retry-After": str(max(1, wait))},
        )
    return ApplicationError(
        str(_("Too many AI requests; slow down.")),
        code="rate_limited",
        status=429,
        headers={"Retry-After": str(max(1, 60 - now.second))},
    )


def quota_reserve(
    *,
    user: "User",
    model: AIModel,
    tokens_needed: int,
    is_stream: bool = False,
    document: "Document | None" = None,
    action: str = "",
    now: dt.datetime | None = None,
) -> Reservation:
    """Hold ``tokens_needed`` of the user's month and count one request.

    Raise 429 ``quota_exceeded`` (``Retry-After``: the month's end) or 429
    ``rate_limited`` (``Retry-After``: the minute's end). Also write the
    pending ledger row, in the same transaction.
    """
    now = now or timezone.now()
    limits = quota_limits_for(user=user)
    start = period_start_for(now)
    minute = now.replace(second=0, microsecond=0)
    args = {
        "user": user,
        "start": start,
        "minute": minute,
        "needed": tokens_needed,
        "limits": limits,
        "now": now,
    }
    with transaction.atomic():
        _relaxed_durability()
        taken = _counter_take(**args)
        if not taken:
            QuotaCounter.objects.bulk_create(
                [QuotaCounter(user=user, period_start=start)], ignore_conflicts=True
            )
            taken = _counter_take(**args)
        if not taken:
            raise _over_limit(
                user=user, start=start, needed=tokens_needed, limits=limits, now=now
            )
        record = UsageRecord.objects.create(
            user=user,
            model=model,
            model_name=model.name,
            provider=model.provider,
            period_start=start,
            is_stream=is_stream,
            reserved_tokens=tokens_needed,
            document=document,
            action=action,
        )
    return Reservation(
        record_id=record.pk,
        user_id=user.pk,
        period_start=start,
        reserved_tokens=tokens_needed,
        input_price=model.input_price,
        output_price=model.output_price,
    )


def usage_cost(*, reservation: Reservation, usage: Usage) -> Decimal:
    """Return what ``usage`` costs at the prices fixed when it was reserved."""
    return (
        Decimal(usage.prompt_tokens) * reservation.input_price
        + Decimal(usage.completion_tokens) * reservation.output_price
    )


def quota_settle(
    *,
    reservation: Reservation,
    status: str,
    usage: Usage,
    error_code: str = "",
    latency_ms: int | None = None,
    ttft_ms: int | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Charge ``usage``, release the rest of the reservation, finish the row.

    Idempotent: a row already settled is left alone (returns False).
    """
    now = now or timezone.now()
    cost = usage_cost(reservation=reservation, usage=usage)
    with transaction.atomic():
        _relaxed_durability()
        updated = UsageRecord.objects.filter(
            pk=reservation.record_id, status=Status.PENDING
        ).update(
            status=status,
            error_code=error_code,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            settled_at=now,
            updated_at=now,
        )
        if updated:
            QuotaCounter.objects.filter(
                user_id=reservation.user_id, period_start=reservation.period_start
            ).update(
                reserved_tokens=F("reserved_tokens") - reservation.reserved_tokens,
                used_tokens=F("used_tokens") + usage.total_tokens,
                updated_at=now,
            )
    return bool(updated)


def quota_release_stale(*, now: dt.datetime | None = None) -> int:
    """Release reservations older than ``AI_STALE_RESERVATION_SECONDS``.

    A process killed mid-request leaves its reservation held; this settles
    such rows as errors charging nothing. Return how many were released.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.AI_STALE_RESERVATION_SECONDS)
    stale = UsageRecord.objects.filter(
        status=Status.PENDING, created_at__lt=cutoff
    ).select_related("model")
    released = 0
    for record in stale.iterator():
        reservation = Reservation(
            record_id=record.pk,
            user_id=record.user_id,
            period_start=record.period_start,
            reserved_tokens=record.reserved_tokens,
            input_price=Decimal(0),
            output_price=Decimal(0),
        )
        released += quota_settle(
            reservation=reservation,
            status=Status.ERROR,
            usage=Usage(0, 0),
            error_code="abandoned",
            now=now,
        )
    return released


def user_quota_set(
    *, user: "User", tokens_per_month: int | None, requests_per_minute: int | None
) -> UserQuota:
    """Set (or clear, with ``None``) the user's quota override."""
    quota, _created = UserQuota.objects.update_or_create(
        user=user,
        defaults={
            "tokens_per_month": tokens_per_month,
            "requests_per_minute": requests_per_minute,
        },
    )
    return quota


# -- the completion pipeline -------------------------------------------------


@dataclass(frozen=True)
class PreparedCall:
    """A reserved request, ready for the provider."""

    model_name: str
    provider: str
    request: ChatRequest
    reservation: Reservation
    prompt_estimate: int
    started: float


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
    """Resolve the model, size the request and reserve its worst case."""
    started = time.perf_counter()
    model = ai_model_get_enabled(name=params.model)
    try:
        config = providers.provider_config(model.provider)
    except ProviderNotConfigured:
        raise _not_configured() from None
    if config.kind in KEYED_KINDS:
        providers.provider_key(model.provider)  # 503 now rather than mid-call
    prompt = tokens.prompt_tokens(params.messages)
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
        prompt_estimate=tokens.prompt_tokens_exact(params.messages),
        started=started,
    )


def _elapsed_ms(call: PreparedCall) -> int:
    return int((time.perf_counter() - call.started) * 1000)


def _charged(call: PreparedCall, usage: Usage | None, text: str) -> Usage:
    """Return the usage to charge: the provider's, else counted from the text."""
    if not text and (usage is None or usage.completion_tokens == 0):
        return usage if usage is not None and usage.prompt_tokens else Usage(0, 0)
    completion = usage.completion_tokens if usage else 0
    prompt = usage.prompt_tokens if usage else 0
    return Usage(prompt or call.prompt_estimate, completion or tokens.text_tokens(text))


async def _settle(
    call: PreparedCall,
    *,
    status: str,
    usage: Usage,
    error_code: str = "",
    ttft_ms: int | None = None,
) -> None:
    latency = _elapsed_ms(call)
    await run_db(
        quota_settle,
        reservation=call.reservation,
        status=status,
        usage=usage,
        error_code=error_code,
        latency_ms=latency,
        ttft_ms=ttft_ms,
    )
    logger.info(
        "ai request model=%s provider=%s status=%s error=%s prompt=%s completion=%s latency_ms=%s",
        call.model_name,
        call.provider,
        status,
        error_code or "-",
        usage.prompt_tokens,
        usage.completion_tokens,
        latency,
    )
    dimensions = {"model": call.model_name, "status": status}
    metrics.record(
        "AIRequestLatency", latency, unit="Milliseconds", dimensions=dimensions
    )
    metrics.record("AITokens", usage.total_tokens, unit="Count", dimensions=dimensions)
    # The spend alarm in infra/ sums this metric.
    cost = usage_cost(reservation=call.reservation, usage=usage)
    metrics.record("AICostUSD", float(cost), unit="None", dimensions=dimensions)


async def _settle_shielded(call: PreparedCall, **kwargs: Any) -> None:
    """Settle even if the surrounding task is being cancelled (client gone)."""
    task = asyncio.ensure_future(_settle(call, **kwargs))
    _background.add(task)
    task.add_done_callback(_background.discard)
    # Cancelled again: the task goes on and finishes the ledger row anyway.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(task)


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
        await _settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None


async def completion_create(*, call: PreparedCall) -> dict[str, Any]:
    """Call the provider for the whole answer; settle; return the OpenAI JSON."""
    provider = await _provider(call)
    try:
        result = await provider.complete(call.request)
    except ProviderNotConfigured:
        await _settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None
    except UpstreamError as exc:
        status, code, error = _upstream_failure(exc)
        await _settle(call, status=status, usage=Usage(0, 0), error_code=code)
        raise error from None
    except BaseException:
        await _settle_shielded(
            call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
        )
        raise
    usage = _charged(call, result.usage, result.content)
    await _settle(call, status=Status.OK, usage=usage, ttft_ms=_elapsed_ms(call))
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
        await _settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None
    except UpstreamError as exc:
        await deltas.aclose()
        status, code, error = _upstream_failure(exc)
        await _settle(call, status=status, usage=Usage(0, 0), error_code=code)
        raise error from None
    except BaseException:
        await _settle_shielded(
            call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
        )
        await deltas.aclose()
        raise
    events = _events(call, deltas, first, include_usage, _elapsed_ms(call))
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
            yield writer.usage(_charged(call, usage, "".join(parts)))
        yield writer.done()
    except UpstreamError as exc:
        status, error_code, error = _upstream_failure(exc)
        yield ChunkWriter.error(str(error.detail), error_code)
    finally:
        await deltas.aclose()  # closes the upstream connection: cancels it
        await _settle_shielded(
            call,
            status=status,
            usage=_charged(call, usage, "".join(parts)),
            error_code=error_code,
            ttft_ms=ttft_ms,
        )


# -- account export and deletion ----------------------------------------------


def usage_export_for_user(user: "User") -> dict[str, Any]:
    """Return the user's ledger and quota override for the account export."""
    quota = UserQuota.objects.filter(user=user).first()
    return {
        "quota": {
            "tokens_per_month": quota.tokens_per_month,
            "requests_per_minute": quota.requests_per_minute,
        }
        if quota
        else None,
        "requests": [
            {
                "created_at": record.created_at.isoformat(),
                "model": record.model_name,
                "status": record.status,
                "prompt_tokens": record.prompt_tokens,
                "completion_tokens": record.completion_tokens,
                "cost": str(record.cost),
                "document": str(record.document_id) if record.document_id else None,
                "action": record.action,
            }
            for record in usage_list_for(user=user)
        ],
    }


def usage_delete_for_user(user: "User") -> None:
    """Delete the user's ledger, counters and quota override."""
    UsageRecord.objects.filter(user=user).delete()
    QuotaCounter.objects.filter(user=user).delete()
    UserQuota.objects.filter(user=user).delete()
