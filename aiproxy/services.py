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
import contextvars
import datetime as dt
import functools
import logging
import math
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
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
    ai_model_get_enabled,
    period_end_for,
    period_start_for,
    quota_limits_for,
    usage_list_for,
)
from aiproxy.wire import ChatParams, ChunkWriter, completion_id, completion_json
from project import metrics
from project.exceptions import ApplicationError
from project.postgresql.prepared import prepared_cursor

if TYPE_CHECKING:
    from accounts.models import User
    from documents.models import Document

logger = logging.getLogger(__name__)
T = TypeVar("T")
KEYED_KINDS = {"openai", "anthropic"}
Status = UsageRecord.Status
_background: set[asyncio.Task] = set()


# -- database access from async code -----------------------------------------


_db_pool: ThreadPoolExecutor | None = None
_db_pool_lock = threading.Lock()


def _db_executor() -> ThreadPoolExecutor:
    """Return this process's pool of database threads (created on first use).

    Created lazily, so a forked worker builds its own. Each thread keeps its
    own Django connection, reused from hop to hop.
    """
    global _db_pool  # noqa: PLW0603 - one pool per process
    if _db_pool is None:
        with _db_pool_lock:
            if _db_pool is None:
                _db_pool = ThreadPoolExecutor(
                    max_workers=settings.AI_DB_THREADS, thread_name_prefix="ai-db"
                )
    return _db_pool


def _call_checked(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    # A hop is handled like a request: broken or expired connections go;
    # one that served the previous hop within a second skips the health
    # query (project/postgresql).
    close_old_connections()
    return fn(**kwargs)


async def run_db(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(**kwargs)`` (ORM work) off the event loop.

    With ``AI_DB_THREAD_SENSITIVE`` off (serving), calls run on this
    process's pool of ``AI_DB_THREADS`` database threads, so many streams
    settle in parallel instead of queueing on Django's single
    thread-sensitive thread; the context (request id for logs) goes along.
    With it on (the test client), Django's thread-sensitive thread is used.
    """
    if settings.AI_DB_THREAD_SENSITIVE:
        return await sync_to_async(fn, thread_sensitive=True)(**kwargs)
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _db_executor(), context.run, _call_checked, fn, kwargs
    )


# -- quota -------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    """Tokens held for one request in flight, and the ledger row to finish."""

    record_id: Any
    user_id: Any
    period_start: dt.date
    reserved_tokens: int
    input_price: Decimal
    output_price: Decimal


def _limit(field: str, default: int) -> Coalesce:
    """Return the user's override of ``field`` (else ``default``), as SQL.

    Evaluated inside the reservation's ``UPDATE``: no separate query.
    """
    override = UserQuota.objects.filter(user_id=OuterRef("user_id")).values(field)
    return Coalesce(Subquery(override[:1]), Value(default))


def _counter_take(
    *,
    user_id: Any,
    start: dt.date,
    minute: dt.datetime,
    needed: int,
    now: dt.datetime,
) -> int:
    same_minute = Q(minute_start=minute)
    tokens_limit = _limit("tokens_per_month", settings.AI_TOKENS_PER_MONTH)
    rpm_limit = _limit("requests_per_minute", settings.AI_REQUESTS_PER_MINUTE)
    return (
        QuotaCounter.objects.filter(user_id=user_id, period_start=start)
        .alias(tokens_limit=tokens_limit, rpm_limit=rpm_limit)
        .filter(
            used_tokens__lte=F("tokens_limit") - Value(needed) - F("reserved_tokens")
        )
        .filter(
            ~same_minute
            | Q(minute_start__isnull=True)
            | Q(minute_requests__lt=F("rpm_limit"))
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


# The reservation in one statement (PostgreSQL): create or update the month
# row only if the request fits the month's tokens and the minute's requests
# (the user's override, else the defaults), then write the pending ledger
# row, in one round trip and one transaction. ``ON CONFLICT DO UPDATE ...
# WHERE`` re-checks the condition on the locked, latest row version, so
# concurrent requests cannot overspend. A prepared statement (planned once
# per connection), committed durably like the ledger it writes (no
# ``synchronous_commit = off``: a crash must not lose a charge). PostgreSQL draws the new rows' ids (a random
# UUID, as ``uuid4``): two ``os.urandom`` calls less per request, each a
# point where a database thread gives up the GIL and must win it back.
_RESERVE_SQL = """
WITH limits AS (
    SELECT
        COALESCE(quota.tokens_per_month, %(default_tokens)s) AS tokens,
        COALESCE(quota.requests_per_minute, %(default_rpm)s) AS rpm
    FROM (SELECT 1) AS one
    LEFT JOIN aiproxy_userquota AS quota ON quota.user_id = %(user)s
), taken AS (
    INSERT INTO aiproxy_quotacounter AS counter (
        id, created_at, updated_at, user_id, period_start,
        reserved_tokens, used_tokens, minute_start, minute_requests
    )
    SELECT gen_random_uuid(), %(now)s, %(now)s, %(user)s, %(start)s,
        %(needed)s, 0, %(minute)s, 1
    FROM limits
    WHERE %(needed)s <= limits.tokens AND limits.rpm >= 1
    ON CONFLICT (user_id, period_start) DO UPDATE SET
        reserved_tokens = counter.reserved_tokens + EXCLUDED.reserved_tokens,
        minute_requests = CASE
            WHEN counter.minute_start = EXCLUDED.minute_start
            THEN counter.minute_requests + 1 ELSE 1 END,
        minute_start = EXCLUDED.minute_start,
        updated_at = EXCLUDED.updated_at
    WHERE counter.used_tokens + counter.reserved_tokens + EXCLUDED.reserved_tokens
            <= (SELECT tokens FROM limits)
        AND (
            counter.minute_start IS DISTINCT FROM EXCLUDED.minute_start
            OR counter.minute_requests < (SELECT rpm FROM limits)
        )
    RETURNING counter.id
)
INSERT INTO aiproxy_usagerecord (
    id, created_at, updated_at, user_id, model_id, model_name, provider,
    period_start, is_stream, status, error_code, reserved_tokens,
    prompt_tokens, completion_tokens, cost, latency_ms, ttft_ms, settled_at,
    document_id, action
)
SELECT gen_random_uuid(), %(now)s, %(now)s, %(user)s, %(model)s, %(model_name)s,
    %(provider)s, %(start)s, %(is_stream)s, 'pending', '', %(needed)s,
    0, 0, 0, NULL, NULL, NULL, %(document)s, %(action)s
FROM taken
RETURNING id
"""


def _reserve_sql(
    *,
    user_id: Any,
    model: AIModel,
    start: dt.date,
    minute: dt.datetime,
    needed: int,
    is_stream: bool,
    document_id: Any,
    action: str,
    now: dt.datetime,
) -> Any:
    """Run ``_RESERVE_SQL``; return the ledger row's id, or None if refused."""
    params = {
        "user": user_id,
        "default_tokens": settings.AI_TOKENS_PER_MONTH,
        "default_rpm": settings.AI_REQUESTS_PER_MINUTE,
        "now": now,
        "start": start,
        "minute": minute,
        "needed": needed,
        "model": model.pk,
        "model_name": model.name,
        "provider": model.provider,
        "is_stream": is_stream,
        "document": document_id,
        "action": action,
    }
    with prepared_cursor(connections[DEFAULT_DB_ALIAS]) as cursor:
        cursor.execute(_RESERVE_SQL, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _over_limit(
    *,
    user: "User",
    start: dt.date,
    needed: int,
    now: dt.datetime,
) -> ApplicationError:
    limits = quota_limits_for(user=user)
    counter = QuotaCounter.objects.filter(user=user, period_start=start).first()
    used = counter.used_tokens + counter.reserved_tokens if counter else 0
    remaining = max(0, limits.tokens_per_month - used)
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


def _reserve_orm(
    *,
    user: "User",
    model: AIModel,
    start: dt.date,
    minute: dt.datetime,
    needed: int,
    is_stream: bool,
    document: "Document | None",
    action: str,
    now: dt.datetime,
) -> Any:
    """Reserve with the ORM (SQLite...): the same rule in a few statements."""
    args = {
        "user_id": user.pk,
        "start": start,
        "minute": minute,
        "needed": needed,
        "now": now,
    }
    with transaction.atomic():
        taken = _counter_take(**args)
        if not taken:
            QuotaCounter.objects.bulk_create(
                [QuotaCounter(user=user, period_start=start)], ignore_conflicts=True
            )
            taken = _counter_take(**args)
        if not taken:
            raise _over_limit(user=user, start=start, needed=needed, now=now)
        record = UsageRecord.objects.create(
            user=user,
            model=model,
            model_name=model.name,
            provider=model.provider,
            period_start=start,
            is_stream=is_stream,
            reserved_tokens=needed,
            document=document,
            action=action,
        )
    return record.pk


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
    start = period_start_for(now)
    minute = now.replace(second=0, microsecond=0)
    if connection.vendor == "postgresql":
        record_id = _reserve_sql(
            user_id=user.pk,
            model=model,
            start=start,
            minute=minute,
            needed=tokens_needed,
            is_stream=is_stream,
            document_id=document.pk if document is not None else None,
            action=action,
            now=now,
        )
        if record_id is None:
            raise _over_limit(user=user, start=start, needed=tokens_needed, now=now)
    else:
        record_id = _reserve_orm(
            user=user,
            model=model,
            start=start,
            minute=minute,
            needed=tokens_needed,
            is_stream=is_stream,
            document=document,
            action=action,
            now=now,
        )
    return Reservation(
        record_id=record_id,
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
    if connection.vendor == "postgresql":
        return _settle_sql(
            reservation=reservation,
            status=status,
            usage=usage,
            cost=cost,
            error_code=error_code,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            now=now,
        )
    with transaction.atomic():
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


# The settlement in one statement (PostgreSQL): finish the ledger row if it
# is still pending and, only then, move its reservation to the month's used
# tokens; one round trip, one transaction, relaxed durability as above.
_SETTLE_SQL = """
WITH settled AS (
    UPDATE aiproxy_usagerecord SET
        status = %(status)s, error_code = %(error_code)s,
        prompt_tokens = %(prompt)s, completion_tokens = %(completion)s,
        cost = %(cost)s, latency_ms = %(latency)s, ttft_ms = %(ttft)s,
        settled_at = %(now)s, updated_at = %(now)s
    WHERE id = %(record)s AND status = 'pending'
    RETURNING id
), released AS (
    UPDATE aiproxy_quotacounter SET
        reserved_tokens = reserved_tokens - %(reserved)s,
        used_tokens = used_tokens + %(total)s,
        updated_at = %(now)s
    WHERE user_id = %(user)s AND period_start = %(start)s
        AND EXISTS (SELECT 1 FROM settled)
)
SELECT count(*) FROM settled
"""


def _settle_sql(
    *,
    reservation: Reservation,
    status: str,
    usage: Usage,
    cost: Decimal,
    error_code: str,
    latency_ms: int | None,
    ttft_ms: int | None,
    now: dt.datetime,
) -> bool:
    """Run ``_SETTLE_SQL``; return whether the row was still pending."""
    params = {
        "status": status,
        "error_code": error_code,
        "prompt": usage.prompt_tokens,
        "completion": usage.completion_tokens,
        "cost": cost,
        "latency": latency_ms,
        "ttft": ttft_ms,
        "now": now,
        "record": reservation.record_id,
        "reserved": reservation.reserved_tokens,
        "total": usage.total_tokens,
        "user": reservation.user_id,
        "start": reservation.period_start,
    }
    with prepared_cursor(connections[DEFAULT_DB_ALIAS]) as cursor:
        cursor.execute(_SETTLE_SQL, params)
        return bool(cursor.fetchone()[0])


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


def _elapsed_ms(call: PreparedCall) -> int:
    return int((time.perf_counter() - call.started) * 1000)


def _charged(call: PreparedCall, usage: Usage | None, text: str) -> Usage:
    """Return the usage to charge: the provider's, else counted from the text."""
    if not text and (usage is None or usage.completion_tokens == 0):
        return usage if usage is not None and usage.prompt_tokens else Usage(0, 0)
    completion = usage.completion_tokens if usage else 0
    prompt = usage.prompt_tokens if usage else 0
    return Usage(prompt or call.prompt_estimate, completion or tokens.text_tokens(text))


class _Settlements:
    """Settle requests on a database thread, gathering those that queue up.

    Settling took a hop to a database thread per request; under load each
    hop waited for the GIL. Requests finishing while a settlement is in
    flight are settled together in the next hop (one statement each, each
    its own transaction, so one failing does not undo the others).

    A settlement someone waits for (a stream's, before its last byte; a
    failure's, before its error) starts at once. One whose answer was
    already sent (``patient``) may wait up to ``AI_SETTLE_WINDOW_MS`` for
    others to share its hop: at one connection its hop otherwise ran while
    the client's next request was being admitted, and competed with it.
    """

    MAX_BATCH = 64

    def __init__(self) -> None:
        self._queue: list[tuple[dict[str, Any], asyncio.Future]] = []
        self._draining: asyncio.Task | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def settle(self, *, patient: bool = False, **kwargs: Any) -> bool:
        """Settle one request (``quota_settle``'s arguments); return its result."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((kwargs, future))
        window = settings.AI_SETTLE_WINDOW_MS / 1000
        if self._draining is None:
            if not patient or window <= 0 or len(self._queue) >= self.MAX_BATCH:
                self._start()
            elif self._timer is None:
                self._timer = loop.call_later(window, self._start)
        return await future

    def _start(self) -> None:
        """Drain the queue now (the window ended, or someone is waiting)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._draining is None and self._queue:
            self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.MAX_BATCH]
                del self._queue[: self.MAX_BATCH]
                try:
                    results = await run_db(
                        quota_settle_many, items=[kwargs for kwargs, _ in batch]
                    )
                except BaseException as exc:  # the hop itself failed
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = None


_settlements: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Settlements]" = (
    weakref.WeakKeyDictionary()
)


def _settlements_here() -> _Settlements:
    """Return this event loop's settlement queue."""
    loop = asyncio.get_running_loop()
    queue = _settlements.get(loop)
    if queue is None:
        queue = _settlements[loop] = _Settlements()
    return queue


def quota_settle_many(*, items: list[dict[str, Any]]) -> list[bool | Exception]:
    """Run ``quota_settle`` for each item; return each result or its error."""
    results: list[bool | Exception] = []
    for item in items:
        try:
            results.append(quota_settle(**item))
        except Exception as exc:  # noqa: BLE001 - handed to that request's caller
            results.append(exc)
    return results


async def _settle(
    call: PreparedCall,
    *,
    status: str,
    usage: Usage,
    error_code: str = "",
    ttft_ms: int | None = None,
    latency_ms: int | None = None,
    patient: bool = False,
) -> None:
    latency = _elapsed_ms(call) if latency_ms is None else latency_ms
    await _settlements_here().settle(
        patient=patient,
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


async def completion_abandon(*, call: PreparedCall) -> None:
    """Settle a reserved request whose client left before the provider was called."""
    await _settle_shielded(
        call, status=Status.CANCELLED, usage=Usage(0, 0), error_code="cancelled"
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
        await _settle(
            call, status=Status.ERROR, usage=Usage(0, 0), error_code="ai_not_configured"
        )
        raise _not_configured() from None


async def completion_create(
    *,
    call: PreparedCall,
    defer: Callable[[Callable[[], Awaitable[None]]], None] | None = None,
) -> dict[str, Any]:
    """Call the provider for the whole answer; settle; return the OpenAI JSON.

    With ``defer`` (given by the lean ASGI entry, ``aiproxy.asgi``), a
    successful answer's settlement is handed to it to run once the response
    is sent: the client does not wait for that database round trip. The
    ledger row stays ``pending`` (its tokens reserved) until then; if the
    process dies first, ``quota_release_stale`` releases it. Failures are
    still settled before the error is answered.
    """
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
    ttft_ms = _elapsed_ms(call)
    if defer is None:
        await _settle(call, status=Status.OK, usage=usage, ttft_ms=ttft_ms)
    else:
        defer(
            functools.partial(
                _settle,
                call,
                status=Status.OK,
                usage=usage,
                ttft_ms=ttft_ms,
                latency_ms=ttft_ms,  # the answer's, not including sending it
                patient=True,  # the answer is sent: it may share a later hop
            )
        )
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
