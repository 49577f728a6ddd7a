"""The admin dashboard's numbers: one selector per panel, read on each visit.

Definitions, as the dashboard states them to staff (docs/admin.md):

- *active* users made an authenticated request (API token or web session)
  in the window. Authentication records it in ``User.last_seen_at`` at most
  once per ``ACCOUNTS_LAST_SEEN_INTERVAL_SECONDS``, so a count may lag by
  that much; disabled accounts are not counted.
- *storage used* is the size of ready attachments; uploads still pending
  reserve their declared size and are shown apart.
- *this month* is the quota month (UTC) the AI quota counts in: ledger rows
  whose ``period_start`` is the month's first day, as ``/api/v1/ai/usage``.
- an *error* is a ledger row that did not end ``ok``, ``cancelled`` or
  ``pending``: upstream errors, timeouts and any refusal the ledger records.

Costs are exact sums (the ledger's decimals); pages show them with
``aiproxy.money.usd``. Every selector runs a fixed number of queries,
whatever the row counts.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from accounts.models import User
from aiproxy.models import UsageRecord
from aiproxy.selectors import period_start_for
from attachments.models import Attachment
from documents.models import Document

CHART_DAYS = 30
TOP_USERS = 10
NOT_ERRORS = [
    UsageRecord.Status.OK,
    UsageRecord.Status.CANCELLED,
    UsageRecord.Status.PENDING,
]


def _error_filter() -> Q:
    return ~Q(status__in=NOT_ERRORS)


def _tokens() -> Sum:
    return Sum(F("prompt_tokens") + F("completion_tokens"))


def _cost(value: Decimal | None) -> Decimal:
    return value or Decimal(0)


@dataclass(frozen=True)
class ActiveUsers:
    accounts: int
    last_7_days: int
    last_30_days: int


@dataclass(frozen=True)
class ContentTotals:
    documents: int
    documents_in_trash: int
    attachments: int
    storage_bytes: int
    pending_uploads: int
    pending_bytes: int


def active_users(*, now: dt.datetime) -> ActiveUsers:
    """Return the active accounts and those seen in the last 7 and 30 days."""
    totals = User.objects.filter(is_active=True).aggregate(
        accounts=Count("id"),
        last_7_days=Count("id", filter=Q(last_seen_at__gte=now - dt.timedelta(7))),
        last_30_days=Count("id", filter=Q(last_seen_at__gte=now - dt.timedelta(30))),
    )
    return ActiveUsers(**totals)


def content_totals() -> ContentTotals:
    """Return the documents (in and out of the trash) and the storage they use."""
    documents = Document.objects.aggregate(
        documents=Count("id", filter=Q(trashed_at__isnull=True)),
        documents_in_trash=Count("id", filter=Q(trashed_at__isnull=False)),
    )
    ready = Q(status=Attachment.Status.READY)
    pending = Q(status=Attachment.Status.PENDING)
    files = Attachment.objects.aggregate(
        attachments=Count("id", filter=ready),
        storage_bytes=Sum("size_bytes", filter=ready),
        pending_uploads=Count("id", filter=pending),
        pending_bytes=Sum("size_bytes", filter=pending),
    )
    return ContentTotals(
        documents=documents["documents"],
        documents_in_trash=documents["documents_in_trash"],
        attachments=files["attachments"],
        storage_bytes=files["storage_bytes"] or 0,
        pending_uploads=files["pending_uploads"],
        pending_bytes=files["pending_bytes"] or 0,
    )


def ai_usage_by_model(*, now: dt.datetime) -> dict[str, Any]:
    """Return this month's requests, tokens, errors and cost per model, and totals."""
    start = period_start_for(now)
    rows = [
        {
            "model": row["model_name"],
            "requests": row["requests"],
            "errors": row["errors"],
            "prompt_tokens": row["prompt_tokens"] or 0,
            "completion_tokens": row["completion_tokens"] or 0,
            "tokens": (row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0),
            "cost": _cost(row["cost"]),
        }
        for row in UsageRecord.objects.filter(period_start=start)
        .values("model_name")
        .annotate(
            requests=Count("id"),
            errors=Count("id", filter=_error_filter()),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            cost=Sum("cost"),
        )
        .order_by("-cost", "model_name")
    ]
    totals = {
        key: sum(row[key] for row in rows)
        for key in ["requests", "errors", "prompt_tokens", "completion_tokens"]
    }
    totals["tokens"] = totals["prompt_tokens"] + totals["completion_tokens"]
    totals["cost"] = _cost(sum((row["cost"] for row in rows), Decimal(0)))
    return {"period_start": start, "models": rows, "totals": totals}


def ai_top_users(*, now: dt.datetime, limit: int = TOP_USERS) -> list[dict[str, Any]]:
    """Return this month's costliest users (then by tokens), with their totals."""
    rows = (
        UsageRecord.objects.filter(period_start=period_start_for(now))
        .values("user", "user__email")
        .annotate(requests=Count("id"), tokens=_tokens(), cost=Sum("cost"))
        .order_by("-cost", "-tokens", "user__email")[:limit]
    )
    return [
        {
            "user_id": row["user"],
            "email": row["user__email"] or str(row["user"]),
            "requests": row["requests"],
            "tokens": row["tokens"] or 0,
            "cost": _cost(row["cost"]),
        }
        for row in rows
    ]


def ai_daily(*, now: dt.datetime, days: int = CHART_DAYS) -> list[dict[str, Any]]:
    """Return requests, tokens and errors per UTC day, oldest first, zeros included."""
    today = now.astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    counted = {
        row["day"]: row
        for row in UsageRecord.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            tokens=_tokens(),
            errors=Count("id", filter=_error_filter()),
        )
        .order_by("day")
    }
    series = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        row = counted.get(day, {})
        series.append(
            {
                "day": day,
                "requests": row.get("requests", 0),
                "tokens": row.get("tokens") or 0,
                "errors": row.get("errors", 0),
            }
        )
    return series


def bar_chart(
    days: list[dict[str, Any]], key: str, *, width: int = 600, height: int = 80
) -> dict[str, Any]:
    """Return one series as SVG bar geometry, drawn by the template (no script).

    Bars are scaled to the series' largest value; a day with a value keeps at
    least one pixel, so a single error stays visible next to a busy day.
    """
    peak = max((day[key] for day in days), default=0)
    slot = width / max(len(days), 1)
    bars = []
    for index, day in enumerate(days):
        value = day[key]
        bar = round(value / peak * height) if peak else 0
        if value and not bar:
            bar = 1
        bars.append(
            {
                "x": round(index * slot + 1, 1),
                "y": height - bar,
                "width": round(max(slot - 2, 1), 1),
                "height": bar,
                "day": day["day"],
                "value": value,
            }
        )
    return {
        "key": key,
        "peak": peak,
        "total": sum(day[key] for day in days),
        "width": width,
        "height": height,
        "bars": bars,
    }


def dashboard_for(*, user: User, now: dt.datetime) -> dict[str, Any]:
    """Return the panels ``user`` may see: each needs the view permission on its rows."""
    panels: dict[str, Any] = {"now": now}
    if user.has_perm("accounts.view_user"):
        panels["users"] = active_users(now=now)
    if user.has_perm("documents.view_document") and user.has_perm(
        "attachments.view_attachment"
    ):
        panels["content"] = content_totals()
    if user.has_perm("aiproxy.view_usagerecord"):
        panels["ai"] = ai_usage_by_model(now=now)
        if user.has_perm("accounts.view_user"):
            panels["top_users"] = ai_top_users(now=now)
        days = ai_daily(now=now)
        panels["daily"] = days
        panels["charts"] = [
            {"title": title, **bar_chart(days, key)}
            for key, title in [
                ("requests", "Requests"),
                ("tokens", "Tokens"),
                ("errors", "Errors"),
            ]
        ]
    return panels
