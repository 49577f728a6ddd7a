"""Per-user, anonymous and scoped rate limits kept in the database."""

import io
import threading
import time

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

import pytest
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from project.models import ThrottleBucket
from project.throttling import (
    DatabaseRateThrottle,
    LocalTallies,
    batch_for,
    local_tallies,
    parse_rate,
    throttle_hit,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("project.tests.urls")]

# 15 s into a minute window: Retry-After is then exactly 45.
FIXED_NOW = 6000 * 60 + 15.0


@pytest.fixture
def rates(settings):
    """Return a setter for throttle rates; the clock is fixed mid-window."""

    def set_rates(**rates: str | None) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **rates,
            },
        }

    return set_rates


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch):
    monkeypatch.setattr(DatabaseRateThrottle, "timer", staticmethod(lambda: FIXED_NOW))


@pytest.fixture(autouse=True)
def _no_unwritten_hits():
    local_tallies.clear()
    yield
    local_tallies.clear()


THROTTLED_45 = {
    "detail": "Request was throttled. Expected available in 45 seconds.",
    "code": "throttled",
}


def test_user_throttle_over_rate_answers_429_with_retry_after(auth_client, rates):
    """The request after the user's budget is 429 ``throttled`` with Retry-After."""
    rates(user="2/min")
    assert auth_client.get("/api/test/public").status_code == 200
    assert auth_client.get("/api/test/public").status_code == 200
    response = auth_client.get("/api/test/public")
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json() == THROTTLED_45


def test_user_throttle_counts_each_user_separately(client_for, rates):
    """One user's spent budget does not throttle another user."""
    rates(user="1/min")
    first, second = client_for(UserFactory()), client_for(UserFactory())
    assert first.get("/api/test/public").status_code == 200
    assert first.get("/api/test/public").status_code == 429
    response = second.get("/api/test/public")
    assert response.status_code == 200
    assert response.json() == {"title": "public"}


def test_user_throttle_next_window_allows_again(auth_client, rates, monkeypatch):
    """A new window starts a new budget."""
    rates(user="1/min")
    assert auth_client.get("/api/test/public").status_code == 200
    assert auth_client.get("/api/test/public").status_code == 429
    monkeypatch.setattr(
        DatabaseRateThrottle, "timer", staticmethod(lambda: FIXED_NOW + 60)
    )
    response = auth_client.get("/api/test/public")
    assert response.status_code == 200
    assert response.json() == {"title": "public"}


def test_anon_throttle_over_rate_answers_429(api_client, rates):
    """Anonymous callers share a budget per IP address."""
    rates(anon="1/min")
    assert api_client.get("/api/test/public").status_code == 200
    response = api_client.get("/api/test/public")
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json() == THROTTLED_45


def test_anon_throttle_counts_each_ip_separately(rates):
    """Another client address has its own anonymous budget."""
    rates(anon="1/min")
    assert APIClient(REMOTE_ADDR="10.0.0.1").get("/api/test/public").status_code == 200
    response = APIClient(REMOTE_ADDR="10.0.0.2").get("/api/test/public")
    assert response.status_code == 200
    assert response.json() == {"title": "public"}


def test_anon_throttle_ignores_spoofed_forwarded_for(rates):
    """Without trusted proxies, X-Forwarded-For cannot buy a fresh budget."""
    rates(anon="1/min")
    assert (
        APIClient(HTTP_X_FORWARDED_FOR="1.1.1.1").get("/api/test/public").status_code
        == 200
    )
    response = APIClient(HTTP_X_FORWARDED_FOR="2.2.2.2").get("/api/test/public")
    assert response.status_code == 429
    assert response.json() == THROTTLED_45


def test_anon_throttle_behind_one_proxy_uses_forwarded_client(rates, settings):
    """With one trusted proxy (the ALB), the client address from XFF is counted."""
    rates(anon="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert (
        APIClient(HTTP_X_FORWARDED_FOR="1.1.1.1").get("/api/test/public").status_code
        == 200
    )
    response = APIClient(HTTP_X_FORWARDED_FOR="2.2.2.2").get("/api/test/public")
    assert response.status_code == 200
    assert response.json() == {"title": "public"}


def test_anon_budget_does_not_limit_signed_in_users(auth_client, rates):
    """The anonymous rate applies to anonymous requests only."""
    rates(anon="1/min")
    assert auth_client.get("/api/test/public").status_code == 200
    response = auth_client.get("/api/test/public")
    assert response.status_code == 200
    assert response.json() == {"title": "public"}


def test_scoped_throttle_over_scope_rate_answers_429(auth_client, rates):
    """A view's ``throttle_scope`` has its own, tighter budget."""
    rates(burst="1/min")
    assert auth_client.get("/api/test/scoped").status_code == 200
    response = auth_client.get("/api/test/scoped")
    assert response.status_code == 429
    assert response.json() == THROTTLED_45
    other = auth_client.get("/api/test/public")
    assert other.status_code == 200


def test_scoped_throttle_without_rate_is_a_configuration_error(auth_client):
    """A view naming a scope that has no rate fails loudly, not silently."""
    with pytest.raises(ImproperlyConfigured, match="burst"):
        auth_client.get("/api/test/scoped")


def test_throttle_rate_none_disables_scope(auth_client, rates):
    """A scope whose rate is ``None`` is not limited."""
    rates(burst=None, user="1000/min")
    for _ in range(3):
        response = auth_client.get("/api/test/scoped")
    assert response.status_code == 200
    assert response.json() == {"title": "scoped"}


def test_throttle_state_lives_in_the_database(auth_client, user, rates):
    """The counter is a database row, so every process sees the same count."""
    rates(user="5/min")
    auth_client.get("/api/test/public")
    auth_client.get("/api/test/public")
    bucket = ThrottleBucket.objects.get(key=f"user:u{user.pk}")
    assert bucket.hits == 2
    assert bucket.window_start == 6000 * 60


def test_throttle_signed_in_request_costs_one_query(
    auth_client, rates, django_assert_num_queries
):
    """Throttling an authenticated request at a small rate is a single UPSERT."""
    rates(user="60/min", anon="60/min")
    with django_assert_num_queries(1):
        response = auth_client.get("/api/test/public")
    assert response.status_code == 200


def test_throttle_generous_rate_writes_once_per_batch(
    auth_client, user, rates, django_assert_num_queries
):
    """At 1000/min a process writes its hits 20 at a time, not one by one."""
    rates(user="1000/min", anon="60/min")
    assert batch_for(1000) == 20
    with django_assert_num_queries(0):
        for _ in range(19):
            assert auth_client.get("/api/test/public").status_code == 200
    with django_assert_num_queries(1):
        assert auth_client.get("/api/test/public").status_code == 200
    assert ThrottleBucket.objects.get(key=f"user:u{user.pk}").hits == 20


@pytest.mark.parametrize(("limit", "batch"), [(1, 1), (99, 1), (100, 2), (600, 12)])
def test_throttle_batch_is_under_two_percent_of_the_rate(limit, batch):
    """Rates under 100 are written on every hit; larger ones in small batches."""
    assert batch_for(limit) == batch


def test_throttle_batch_is_capped():
    """However generous the rate, a process gathers at most 100 hits."""
    assert batch_for(10**9) == 100


def test_throttle_near_the_limit_writes_every_hit():
    """Within one batch of the limit, each hit is written and decided by the DB."""
    tallies = LocalTallies()
    limit = 100  # batch 2
    for _ in range(98):
        assert tallies.hit(key="k", window_start=0, limit=limit)
    assert ThrottleBucket.objects.get(key="k").hits == 98
    assert tallies.hit(key="k", window_start=0, limit=limit)
    assert ThrottleBucket.objects.get(key="k").hits == 99


def test_throttle_refuses_on_the_shared_count_of_other_processes():
    """Hits written by another process count once this one writes (one batch)."""
    tallies = LocalTallies()
    throttle_hit(key="k", window_start=0, hits=1000)  # another process
    allowed = [tallies.hit(key="k", window_start=0, limit=1000) for _ in range(40)]
    assert allowed.count(True) == batch_for(1000) - 1
    assert not any(allowed[batch_for(1000) - 1 :])


def test_throttle_overshoot_bounded_by_one_batch_per_process():
    """Two processes at 1000/min admit at most limit + 2 × (batch - 1) hits."""
    first, second = LocalTallies(), LocalTallies()
    admitted = 0
    for _ in range(1100):
        admitted += first.hit(key="k", window_start=0, limit=1000)
        admitted += second.hit(key="k", window_start=0, limit=1000)
    assert 1000 <= admitted <= 1000 + 2 * (batch_for(1000) - 1)


def test_throttle_new_window_starts_from_zero():
    """Hits of an earlier window do not count in the next."""
    tallies = LocalTallies()
    for _ in range(5):
        tallies.hit(key="k", window_start=0, limit=5)
    assert not tallies.hit(key="k", window_start=0, limit=5)
    assert tallies.hit(key="k", window_start=60, limit=5)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("600/min", (600, 60)),
        ("10/s", (10, 1)),
        ("5/hour", (5, 3600)),
        ("1000/day", (1000, 86400)),
        ("10/30s", (10, 30)),
        ("100/5min", (100, 300)),
    ],
)
def test_parse_rate_valid_rates_parse(rate, expected):
    """Rates are ``<n>/<period>`` with an optional period multiplier."""
    assert parse_rate(rate) == expected


@pytest.mark.parametrize("rate", ["", "ten/min", "10/week", "10"])
def test_parse_rate_invalid_rate_raises(rate):
    """A malformed rate is a configuration error."""
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql  # concurrency
def test_throttle_hit_concurrent_requests_lose_no_count():
    """Concurrent increments from many connections are all counted."""
    threads_count, per_thread = 8, 25
    barrier = threading.Barrier(threads_count)

    def hammer() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(per_thread):
                throttle_hit(key="race", window_start=0)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert ThrottleBucket.objects.get(key="race").hits == threads_count * per_thread


def test_purge_throttle_buckets_deletes_only_stale_counters():
    """Counters whose window started long ago are deleted; current ones stay."""
    ThrottleBucket.objects.create(key="old", window_start=0, hits=3)
    current = int(time.time()) // 60 * 60
    ThrottleBucket.objects.create(key="new", window_start=current, hits=1)
    out = io.StringIO()
    call_command("purge_throttle_buckets", stdout=out)
    assert out.getvalue() == "deleted 1 throttle counters\n"
    assert list(ThrottleBucket.objects.values_list("key", flat=True)) == ["new"]
