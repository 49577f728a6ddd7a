"""Reads of the catalogue, quotas and the ledger."""

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from aiproxy.models import AIModel, QuotaCounter, UsageRecord, UserQuota
from project.exceptions import NotFound

if TYPE_CHECKING:
    from accounts.models import User


COST_QUANTUM = Decimal("0.0000000001")  # the ledger's 10 decimal places


@dataclass(frozen=True)
class QuotaLimits:
    tokens_per_month: int
    requests_per_minute: int


def ai_model_list_enabled() -> QuerySet[AIModel]:
    """Return the enabled models whose provider is configured, by name."""
    return AIModel.objects.filter(
        is_enabled=True, provider__in=list(settings.AI_PROVIDERS)
    ).order_by("name")


def _model_get_enabled_sql() -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in AIModel._meta.concrete_fields)
    table = quote(AIModel._meta.db_table)
    # Only the model's own column and table names are interpolated.
    return f"SELECT {names} FROM {table} WHERE name = %s AND is_enabled LIMIT 1"  # noqa: S608


class EnabledModels:
    """This process's memory of enabled models, by name, for a few seconds.

    Every AI request looks its model up; the catalogue changes only when
    staff edit it. A model found enabled is remembered for
    ``AI_MODEL_CACHE_SECONDS`` (default 5; 0 = off); saving or deleting a
    model forgets them all in the process that did it, and other processes
    follow within those seconds (a model disabled in the admin may answer
    that much longer there). Unknown and disabled names are always read.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._models: dict[str, tuple[AIModel, float]] = {}
        self._clock = clock

    def get(self, name: str) -> AIModel | None:
        """Return the remembered model, or None."""
        entry = self._models.get(name)
        if entry is None or self._clock() >= entry[1]:
            return None
        return entry[0]

    def put(self, model: AIModel) -> None:
        """Remember an enabled model for the configured time."""
        ttl = settings.AI_MODEL_CACHE_SECONDS
        if ttl > 0:
            if len(self._models) >= _MAX_REMEMBERED_MODELS:
                self._models.clear()
            self._models[model.name] = (model, self._clock() + ttl)

    def clear(self) -> None:
        """Forget every model (after a catalogue change)."""
        self._models.clear()


_MAX_REMEMBERED_MODELS = 1000
enabled_models = EnabledModels()


def forget_models(**kwargs: Any) -> None:
    """Signal receiver: the catalogue changed, read it again."""
    enabled_models.clear()


def ai_model_get_enabled(*, name: str) -> AIModel:
    """Return the enabled model called ``name``, or raise 404 ``model_not_found``.

    Remembered for a few seconds (:class:`EnabledModels`); otherwise a raw
    query: compiling the ORM query cost several times its own round trip.
    """
    model = enabled_models.get(name)
    if model is not None:
        return model
    # No stored name holds a NUL (PostgreSQL text cannot), and asking for
    # one would fail the query (a 500) instead of finding nothing.
    if "\x00" not in name:
        model = next(iter(AIModel.objects.raw(_model_get_enabled_sql(), [name])), None)
    if model is None:
        raise NotFound(
            str(_("The model does not exist or is not enabled.")),
            code="model_not_found",
        )
    enabled_models.put(model)
    return model


def period_start_for(moment: dt.datetime) -> dt.date:
    """Return the first day (UTC) of the quota month holding ``moment``."""
    return moment.astimezone(dt.UTC).date().replace(day=1)


def period_end_for(start: dt.date) -> dt.datetime:
    """Return the instant (UTC) the quota month starting on ``start`` ends."""
    year, month = (
        (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    )
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def quota_limits_for(*, user: "User") -> QuotaLimits:
    """Return the user's limits: the admin override, else the defaults."""
    override = UserQuota.objects.filter(user=user).first()
    tokens = override.tokens_per_month if override else None
    rpm = override.requests_per_minute if override else None
    return QuotaLimits(
        tokens_per_month=settings.AI_TOKENS_PER_MONTH if tokens is None else tokens,
        requests_per_minute=settings.AI_REQUESTS_PER_MINUTE if rpm is None else rpm,
    )


def _money(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(COST_QUANTUM)


def usage_summary_for(*, user: "User", now: dt.datetime) -> dict[str, Any]:
    """Return the user's usage this month, per model, and what is left."""
    start = period_start_for(now)
    limits = quota_limits_for(user=user)
    counter = QuotaCounter.objects.filter(user=user, period_start=start).first()
    used = counter.used_tokens if counter else 0
    reserved = counter.reserved_tokens if counter else 0
    rows = (
        UsageRecord.objects.filter(user=user, period_start=start)
        .exclude(status=UsageRecord.Status.REFUSED)
        .values("model_name")
        .annotate(
            requests=Count("id"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by("model_name")
    )
    by_model = [
        {
            "model": row["model_name"],
            "requests": row["requests"],
            "prompt_tokens": row["prompt_tokens"] or 0,
            "completion_tokens": row["completion_tokens"] or 0,
            "cost": format(_money(row["cost"]), "f"),
        }
        for row in rows
    ]
    return {
        "period_start": start,
        "period_end": period_end_for(start),
        "tokens_limit": limits.tokens_per_month,
        "tokens_used": used,
        "tokens_reserved": reserved,
        "tokens_remaining": max(0, limits.tokens_per_month - used - reserved),
        "requests_per_minute": limits.requests_per_minute,
        "requests": sum(row["requests"] for row in by_model),
        "cost": format(
            _money(sum((Decimal(row["cost"]) for row in by_model), Decimal(0))), "f"
        ),
        "by_model": by_model,
    }


@dataclass(frozen=True)
class UsageTotals:
    """Requests, tokens and cost of some ledger rows, per model and overall."""

    by_model: list[dict[str, Any]]
    total: dict[str, Any]


TOTAL_FIELDS = (
    "requests",
    "refused",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "cost",
)


def usage_totals(queryset: QuerySet[UsageRecord]) -> UsageTotals:
    """Return the totals of ``queryset`` (any filter), per model name and overall.

    One grouped query; the grand total is the sum of the per-model rows, so
    the two always agree. Costs are exact (the ledger's 10 decimals).
    ``requests`` counts the requests that reached the provider (or were
    meant to: pending ones); ``refused``, those refused before it.
    """
    refused = Q(status=UsageRecord.Status.REFUSED)
    rows = (
        queryset.order_by()
        .values("model_name")
        .annotate(
            requests=Count("id", filter=~refused),
            refused=Count("id", filter=refused),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by("model_name")
    )
    by_model = []
    for row in rows:
        prompt = row["prompt_tokens"] or 0
        completion = row["completion_tokens"] or 0
        by_model.append(
            {
                "model": row["model_name"],
                "requests": row["requests"],
                "refused": row["refused"],
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "tokens": prompt + completion,
                "cost": _money(row["cost"]),
            }
        )
    total: dict[str, Any] = {
        field: sum(
            (row[field] for row in by_model), Decimal(0) if field == "cost" else 0
        )
        for field in TOTAL_FIELDS
    }
    return UsageTotals(by_model=by_model, total=total)


def usage_list_for(*, user: "User") -> QuerySet[UsageRecord]:
    """Return the user's ledger rows, newest first (for the account export)."""
    return UsageRecord.objects.filter(user=user).order_by("-created_at")


def usage_deletion_summary(user: "User") -> dict[str, int]:
    """Return how many AI ledger rows deleting ``user`` erases."""
    return {
        "AI usage records": UsageRecord.objects.filter(user=user).count(),
        "AI quota counters and overrides": QuotaCounter.objects.filter(
            user=user
        ).count()
        + UserQuota.objects.filter(user=user).count(),
    }
