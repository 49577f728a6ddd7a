"""Settlements gathered on a database thread (``aiproxy.services.settlement``)."""

import asyncio
import dataclasses
import datetime as dt

import pytest
from asgiref.sync import async_to_sync

from aiproxy.adapters.base import Usage
from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.services import quota_reserve, settlement
from aiproxy.tests.factories import AIModelFactory

NOW = dt.datetime(2026, 11, 26, 10, 30, 15, tzinfo=dt.UTC)


def _settle_together(reservations) -> list:
    """Settle every reservation at once on one event loop; return the outcomes."""

    async def go() -> list:
        queue = settlement.settlements_here()
        return await asyncio.gather(
            *(
                queue.settle(reservation=r, status="ok", usage=Usage(5, 5))
                for r in reservations
            ),
            return_exceptions=True,
        )

    return async_to_sync(go)()


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """Record the size of each settlement hop (the real work still runs)."""
    sizes: list[int] = []
    real = settlement.quota_settle_many

    def recording(*, items):
        sizes.append(len(items))
        return real(items=items)

    monkeypatch.setattr(settlement, "quota_settle_many", recording)
    return sizes


@pytest.mark.django_db
def test_settlements_queued_together_share_a_hop(user, batches):
    """Settlements queued while none is in flight go in one hop, not eight."""
    model = AIModelFactory()
    reservations = [
        quota_reserve(user=user, model=model, tokens_needed=100, now=NOW)
        for _ in range(8)
    ]
    assert _settle_together(reservations) == [True] * 8
    assert batches == [8]
    assert set(UsageRecord.objects.values_list("status", flat=True)) == {"ok"}
    counter = QuotaCounter.objects.get(user=user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 80)


# Each settlement is its own transaction: the database's, not the test's.
@pytest.mark.django_db(transaction=True)
def test_settlement_failing_in_a_batch_leaves_the_others_settled(user, batches):
    """One settlement's error goes to its caller; the rest of its hop lands."""
    model = AIModelFactory()
    good = [
        quota_reserve(user=user, model=model, tokens_needed=100, now=NOW)
        for _ in range(3)
    ]
    broken = dataclasses.replace(good[0], record_id="not-a-uuid")
    outcomes = _settle_together([good[0], broken, good[1], good[2]])
    assert outcomes[0] is True
    assert isinstance(outcomes[1], Exception)
    assert outcomes[2:] == [True, True]
    assert batches == [4]
    assert set(UsageRecord.objects.values_list("status", flat=True)) == {"ok"}
