"""Quota reservation and settlement in the database."""

import datetime as dt
import threading
from decimal import Decimal

from django.db import connections

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.adapters.base import Usage
from aiproxy.models import QuotaCounter, UsageRecord
from aiproxy.services import quota_release_stale, quota_reserve, quota_settle
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory
from project.exceptions import ApplicationError

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 26, 10, 30, 15, tzinfo=dt.UTC)


def _counter(user) -> QuotaCounter:
    return QuotaCounter.objects.get(user=user)


def test_quota_reserve_holds_tokens_and_writes_pending_row(user):
    """A reservation holds the worst case and leaves a pending ledger row."""
    model = AIModelFactory()
    reservation = quota_reserve(user=user, model=model, tokens_needed=500, now=NOW)
    counter = _counter(user)
    assert (counter.reserved_tokens, counter.used_tokens) == (500, 0)
    assert counter.period_start == dt.date(2026, 11, 1)
    record = UsageRecord.objects.get(pk=reservation.record_id)
    assert record.status == UsageRecord.Status.PENDING
    assert record.reserved_tokens == 500


def test_quota_settle_charges_real_usage_and_releases_rest(user):
    """Settling charges what was used, releases the reservation, prices the row."""
    model = AIModelFactory(input_price=Decimal("0.001"), output_price=Decimal("0.002"))
    reservation = quota_reserve(user=user, model=model, tokens_needed=500, now=NOW)
    assert quota_settle(
        reservation=reservation, status="ok", usage=Usage(20, 30), latency_ms=12
    )
    counter = _counter(user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 50)
    record = UsageRecord.objects.get(pk=reservation.record_id)
    assert (record.status, record.prompt_tokens, record.completion_tokens) == (
        "ok",
        20,
        30,
    )
    assert record.cost == Decimal("0.08")
    assert record.latency_ms == 12


def test_quota_settle_twice_charges_once(user):
    """A second settlement of the same request changes nothing."""
    reservation = quota_reserve(
        user=user, model=AIModelFactory(), tokens_needed=100, now=NOW
    )
    quota_settle(reservation=reservation, status="ok", usage=Usage(10, 10))
    assert not quota_settle(reservation=reservation, status="ok", usage=Usage(10, 10))
    counter = _counter(user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 20)


def test_quota_reserve_over_limit_quota_exceeded_with_retry_after(user):
    """A reservation beyond the month's tokens is a 429 until the month ends."""
    UserQuotaFactory(user=user, tokens_per_month=1000)
    model = AIModelFactory()
    quota_reserve(user=user, model=model, tokens_needed=800, now=NOW)
    with pytest.raises(ApplicationError) as caught:
        quota_reserve(user=user, model=model, tokens_needed=300, now=NOW)
    error = caught.value
    assert (error.status, error.code) == (429, "quota_exceeded")
    expected = dt.datetime(2026, 12, 1, tzinfo=dt.UTC) - NOW
    assert error.headers["Retry-After"] == str(int(expected.total_seconds()))
    assert error.extra == {"tokens_remaining": 200, "tokens_requested": 300}
    assert _counter(user).reserved_tokens == 800
    assert UsageRecord.objects.count() == 1


def test_quota_reserve_new_month_starts_fresh(user):
    """Last month's usage does not count against this month."""
    UserQuotaFactory(user=user, tokens_per_month=1000)
    model = AIModelFactory()
    quota_reserve(user=user, model=model, tokens_needed=1000, now=NOW)
    quota_reserve(
        user=user, model=model, tokens_needed=1000, now=NOW + dt.timedelta(days=6)
    )
    assert QuotaCounter.objects.filter(user=user).count() == 2


def test_quota_reserve_requests_per_minute_rate_limited(user):
    """Past the per-minute request limit: 429 rate_limited until the minute ends."""
    UserQuotaFactory(user=user, requests_per_minute=2)
    model = AIModelFactory()
    quota_reserve(user=user, model=model, tokens_needed=1, now=NOW)
    quota_reserve(user=user, model=model, tokens_needed=1, now=NOW)
    with pytest.raises(ApplicationError) as caught:
        quota_reserve(user=user, model=model, tokens_needed=1, now=NOW)
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert caught.value.headers["Retry-After"] == "45"
    quota_reserve(
        user=user, model=model, tokens_needed=1, now=NOW + dt.timedelta(minutes=1)
    )
    assert _counter(user).minute_requests == 1


def test_quota_release_stale_frees_abandoned_reservation(user, settings):
    """A reservation left pending too long is released, charging nothing."""
    settings.AI_STALE_RESERVATION_SECONDS = 60
    reservation = quota_reserve(user=user, model=AIModelFactory(), tokens_needed=400)
    UsageRecord.objects.filter(pk=reservation.record_id).update(
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    )
    assert quota_release_stale() == 1
    counter = _counter(user)
    assert (counter.reserved_tokens, counter.used_tokens) == (0, 0)
    record = UsageRecord.objects.get(pk=reservation.record_id)
    assert (record.status, record.error_code) == ("error", "abandoned")


@pytest.mark.slow
@pytest.mark.postgresql  # row locking; SQLite serialises writers
@pytest.mark.django_db(transaction=True)
def test_quota_reserve_50_concurrent_at_edge_never_overspend():
    """50 threads racing for a quota that fits 10 reservations: exactly 10 win."""
    user = UserFactory()
    UserQuotaFactory(user=user, tokens_per_month=1000, requests_per_minute=1000)
    model = AIModelFactory()
    quota_reserve(user=user, model=model, tokens_needed=1, now=NOW)  # creates the row
    barrier = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            quota_reserve(user=user, model=model, tokens_needed=100, now=NOW)
            result = "ok"
        except ApplicationError as exc:
            result = exc.code
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == 50
    assert outcomes.count("ok") == 9  # 1 + 9 * 100 <= 1000 < 1 + 10 * 100
    assert outcomes.count("quota_exceeded") == 41
    counter = _counter(user)
    assert counter.reserved_tokens + counter.used_tokens == 901
    assert counter.reserved_tokens <= 1000


def test_usage_export_and_delete_for_user(user):
    """The account export lists the ledger (no text); deletion removes it all."""
    from aiproxy.models import UserQuota
    from aiproxy.services import usage_delete_for_user, usage_export_for_user

    UserQuotaFactory(user=user, tokens_per_month=5000)
    reservation = quota_reserve(
        user=user, model=AIModelFactory(name="m1"), tokens_needed=10
    )
    quota_settle(reservation=reservation, status="ok", usage=Usage(3, 4))
    exported = usage_export_for_user(user)
    assert exported["quota"] == {"tokens_per_month": 5000, "requests_per_minute": 1000}
    assert [
        (r["model"], r["prompt_tokens"], r["completion_tokens"])
        for r in exported["requests"]
    ] == [("m1", 3, 4)]
    usage_delete_for_user(user)
    assert not UsageRecord.objects.filter(user=user).exists()
    assert not QuotaCounter.objects.filter(user=user).exists()
    assert not UserQuota.objects.filter(user=user).exists()


def test_deleting_a_model_keeps_its_ledger_rows_by_name(user):
    """A deleted model's ledger rows stay, unlinked, with the name asked for."""
    model = AIModelFactory(name="retired-model")
    reservation = quota_reserve(user=user, model=model, tokens_needed=100, now=NOW)
    model.delete()
    record = UsageRecord.objects.get(pk=reservation.record_id)
    assert record.model_id is None
    assert record.model_name == "retired-model"
