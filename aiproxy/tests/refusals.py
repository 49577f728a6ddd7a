"""Assertions on the ``refused`` ledger row a refused request leaves."""

from decimal import Decimal

from django.db.models import Sum

from aiproxy.models import QuotaCounter, UsageRecord


def assert_one_refusal(code: str, *, model_name: str = "") -> UsageRecord:
    """Assert the ledger holds one refused row with ``code`` and nothing reserved."""
    record = UsageRecord.objects.get()
    assert (record.status, record.error_code, record.model_name) == (
        "refused",
        code,
        model_name,
    )
    assert (record.prompt_tokens, record.completion_tokens) == (0, 0)
    assert (record.reserved_tokens, record.cost) == (0, Decimal(0))
    assert record.settled_at is not None
    held = QuotaCounter.objects.aggregate(
        reserved=Sum("reserved_tokens"), used=Sum("used_tokens")
    )
    assert (held["reserved"] or 0, held["used"] or 0) == (0, 0)
    return record
