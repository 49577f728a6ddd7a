"""The ledger as CSV for finance and support: the rows staff filtered, exact.

Each row is one request, with the same numbers as the admin's list: exact
costs (10 decimals) so that the column's sum is the admin's grand total,
tokens, status and error code. Never a prompt or an answer (the ledger holds
none), and of the user only the id and email.
"""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts.registry import UserExportColumn
from aiproxy.models import UsageRecord
from aiproxy.selectors import period_start_for
from project.csvexport import csv_response

# (CSV column, ledger field); ``total_tokens`` is computed.
USAGE_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("created_at_utc", "created_at"),
    ("user_id", "user_id"),
    ("user_email", "user__email"),
    ("model", "model_name"),
    ("provider", "provider"),
    ("action", "action"),
    ("document_id", "document_id"),
    ("streamed", "is_stream"),
    ("status", "status"),
    ("error_code", "error_code"),
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("total_tokens", ""),
    ("cost_usd", "cost"),
    ("latency_ms", "latency_ms"),
    ("ttft_ms", "ttft_ms"),
    ("settled_at_utc", "settled_at"),
    ("quota_month", "period_start"),
)
CHUNK_ROWS = 2000


def usage_export_rows(queryset: QuerySet[UsageRecord]) -> Iterator[list[Any]]:
    """Yield the CSV cells of each ledger row of ``queryset``, in its order.

    One query, read in chunks (a server-side cursor on PostgreSQL).
    """
    fields = [field for _, field in USAGE_EXPORT_COLUMNS if field]
    prompt, completion = (
        fields.index("prompt_tokens"),
        fields.index("completion_tokens"),
    )
    at = [column for column, _ in USAGE_EXPORT_COLUMNS].index("total_tokens")
    for values in queryset.values_list(*fields).iterator(chunk_size=CHUNK_ROWS):
        row = list(values)
        row.insert(at, values[prompt] + values[completion])
        yield row


def usage_export_csv(queryset: QuerySet[UsageRecord]) -> StreamingHttpResponse:
    """Return the streamed CSV download of the ledger rows in ``queryset``."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(
        filename=f"quire-ai-ledger-{stamp}.csv",
        header=[column for column, _ in USAGE_EXPORT_COLUMNS],
        rows=usage_export_rows(queryset),
    )


def _month_of_user() -> QuerySet[UsageRecord]:
    """Return the outer user's ledger rows of this quota month, refusals left out."""
    return (
        UsageRecord.objects.filter(
            user=OuterRef("pk"), period_start=period_start_for(timezone.now())
        )
        .exclude(status=UsageRecord.Status.REFUSED)
        .order_by()
        .values("user")
    )


def _month_requests() -> Coalesce:
    counted = _month_of_user().annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted), Value(0))


def _month_tokens() -> Coalesce:
    summed = (
        _month_of_user()
        .annotate(n=Sum(F("prompt_tokens") + F("completion_tokens")))
        .values("n")
    )
    return Coalesce(Subquery(summed), Value(0))


def _month_cost() -> Coalesce:
    money = DecimalField(max_digits=18, decimal_places=10)
    summed = _month_of_user().annotate(n=Sum("cost")).values("n")
    return Coalesce(
        Subquery(summed, output_field=money), Value(Decimal(0)), output_field=money
    )


# The AI usage of the month in the users CSV (registered in AppConfig.ready):
# the same rows and rule as ``GET /api/v1/ai/usage``.
USER_EXPORT_COLUMNS = (
    UserExportColumn(name="ai_requests_this_month", expression=_month_requests),
    UserExportColumn(name="ai_tokens_this_month", expression=_month_tokens),
    UserExportColumn(name="ai_cost_this_month_usd", expression=_month_cost),
)
