"""Quota reservation and settlement of one request, in the database.

The reservation is one conditional ``UPDATE`` on the user's month row, so
concurrent requests on any number of processes cannot overspend:
PostgreSQL re-checks the condition on the locked row. The settlement charges
what was really produced, releases the rest and finishes the ledger row.
Both commit durably: the ledger is the billing record.
"""

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aiproxy.adapters.base import Usage
from aiproxy.models import AIModel, QuotaCounter, UsageRecord, UserQuota
from aiproxy.selectors import period_end_for, period_start_for, quota_limits_for
from project.exceptions import ApplicationError

if TYPE_CHECKING:
    from accounts.models import User
    from documents.models import Document

Status = UsageRecord.Status


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
        # A limit of 0 requests a minute allows none, as in _RESERVE_SQL.
        .filter(rpm_limit__gte=1)
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
        AND (SELECT rpm FROM limits) >= 1
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
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
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
    settle = _settle_sql if connection.vendor == "postgresql" else _settle_orm
    return settle(
        reservation=reservation,
        status=status,
        usage=usage,
        cost=cost,
        error_code=error_code,
        latency_ms=latency_ms,
        ttft_ms=ttft_ms,
        now=now,
    )


def _settle_orm(
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
    """Settle with the ORM (SQLite...): the same rule as ``_SETTLE_SQL``."""
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
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
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
