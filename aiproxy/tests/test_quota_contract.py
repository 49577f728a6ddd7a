"""The quota's SQL (production, PostgreSQL) against its ORM twin (SQLite).

Each scenario is a list of steps run twice, for two fresh users: once
through ``_RESERVE_SQL``/``_SETTLE_SQL`` and once through the ORM versions
that SQLite runs. Every step's answer and the final counter and ledger rows
must be the same. Only PostgreSQL can run the SQL side.
"""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.adapters.base import Usage
from aiproxy.models import QuotaCounter, UsageRecord, UserQuota
from aiproxy.services import quota
from aiproxy.tests.factories import AIModelFactory, UserQuotaFactory
from project.exceptions import ApplicationError

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql]

NOW = dt.datetime(2026, 11, 26, 10, 30, 15, tzinfo=dt.UTC)
NEXT_MINUTE = NOW + dt.timedelta(minutes=1)
NEXT_MONTH = dt.datetime(2026, 12, 1, 0, 0, 5, tzinfo=dt.UTC)

# Steps: ("reserve", tokens, now), ("settle", n-th reservation, prompt,
# completion, status) or ("limits", tokens per month, requests per minute). Limits: (tokens per month, requests per minute), or
# None for the settings' defaults.
SCENARIOS = {
    "fits_then_settles": (
        (1000, 10),
        [("reserve", 400, NOW), ("settle", 0, 100, 50, "ok")],
    ),
    "month_full": (
        (1000, 10),
        [("reserve", 600, NOW), ("reserve", 600, NOW), ("reserve", 400, NOW)],
    ),
    "first_request_too_big": ((1000, 10), [("reserve", 1001, NOW)]),
    "exactly_the_month": ((1000, 10), [("reserve", 1000, NOW)]),
    "minute_full_then_next_minute": (
        (100_000, 2),
        [
            ("reserve", 1, NOW),
            ("reserve", 1, NOW),
            ("reserve", 1, NOW),
            ("reserve", 1, NEXT_MINUTE),
        ],
    ),
    "no_requests_allowed": ((1000, 0), [("reserve", 1, NOW)]),
    "settled_twice": (
        (1000, 10),
        [
            ("reserve", 300, NOW),
            ("settle", 0, 10, 10, "ok"),
            ("settle", 0, 99, 99, "error"),
        ],
    ),
    "usage_beyond_reservation_then_full": (
        (1000, 10),
        [
            ("reserve", 100, NOW),
            ("settle", 0, 500, 400, "ok"),
            ("reserve", 200, NOW),
        ],
    ),
    "released_room_is_reusable": (
        (1000, 10),
        [
            ("reserve", 900, NOW),
            ("settle", 0, 50, 0, "error"),
            ("reserve", 900, NOW),
        ],
    ),
    "new_month_starts_empty": (
        (1000, 10),
        [("reserve", 1000, NOW), ("reserve", 1000, NEXT_MONTH)],
    ),
    "settings_defaults": (None, [("reserve", 10, NOW), ("reserve", 10, NOW)]),
    "blocked_after_use": (
        (1000, 10),
        [("reserve", 1, NOW), ("limits", 1000, 0), ("reserve", 1, NEXT_MINUTE)],
    ),
}


def _reserve(path: str, *, user, model, needed: int, now: dt.datetime):
    start = quota.period_start_for(now)
    minute = now.replace(second=0, microsecond=0)
    common = {"model": model, "start": start, "minute": minute, "needed": needed}
    try:
        if path == "sql":
            record_id = quota._reserve_sql(
                user_id=user.pk,
                is_stream=False,
                document_id=None,
                action="",
                now=now,
                **common,
            )
            if record_id is None:
                raise quota._over_limit(user=user, start=start, needed=needed, now=now)
        else:
            record_id = quota._reserve_orm(
                user=user, is_stream=False, document=None, action="", now=now, **common
            )
    except ApplicationError as error:
        return ("refused", error.code, error.extra, error.headers), None
    reservation = quota.Reservation(
        record_id=record_id,
        user_id=user.pk,
        period_start=start,
        reserved_tokens=needed,
        input_price=model.input_price,
        output_price=model.output_price,
    )
    return ("reserved",), reservation


def _settle(path: str, reservation, prompt: int, completion: int, status: str):
    usage = Usage(prompt_tokens=prompt, completion_tokens=completion)
    settle = quota._settle_sql if path == "sql" else quota._settle_orm
    return settle(
        reservation=reservation,
        status=status,
        usage=usage,
        cost=quota.usage_cost(reservation=reservation, usage=usage),
        error_code="",
        latency_ms=12,
        ttft_ms=None,
        now=NOW,
    )


def _run(path: str, limits, steps) -> dict:
    user = UserFactory()
    if limits is not None:
        UserQuotaFactory(
            user=user, tokens_per_month=limits[0], requests_per_minute=limits[1]
        )
    model = AIModelFactory(input_price=Decimal("0.001"), output_price=Decimal("0.002"))
    answers, reservations = [], []
    for step in steps:
        if step[0] == "reserve":
            answer, reservation = _reserve(
                path, user=user, model=model, needed=step[1], now=step[2]
            )
            answers.append(answer)
            if reservation is not None:
                reservations.append(reservation)
        elif step[0] == "limits":
            UserQuota.objects.update_or_create(
                user=user,
                defaults={"tokens_per_month": step[1], "requests_per_minute": step[2]},
            )
        else:
            _, index, prompt, completion, status = step
            answers.append(
                (
                    "settled",
                    _settle(path, reservations[index], prompt, completion, status),
                )
            )
    counters = list(
        QuotaCounter.objects.filter(user=user)
        .order_by("period_start")
        .values_list(
            "period_start",
            "reserved_tokens",
            "used_tokens",
            "minute_start",
            "minute_requests",
        )
    )
    ledger = list(
        UsageRecord.objects.filter(user=user)
        .order_by("period_start", "reserved_tokens", "status")
        .values_list(
            "period_start",
            "status",
            "reserved_tokens",
            "prompt_tokens",
            "completion_tokens",
            "cost",
            "model_name",
        )
    )
    # Model names differ per run by construction; compare the rest.
    ledger = [row[:-1] for row in ledger]
    return {"answers": answers, "counters": counters, "ledger": ledger}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_quota_sql_and_orm_agree(name):
    """The SQL and the ORM give the same answers and leave the same rows."""
    limits, steps = SCENARIOS[name]
    assert _run("sql", limits, steps) == _run("orm", limits, steps)


def test_quota_contract_scenarios_exercise_refusals():
    """The table reaches both refusals and both settlement answers."""
    seen = set()
    for limits, steps in SCENARIOS.values():
        for answer in _run("sql", limits, steps)["answers"]:
            seen.add(answer[1] if answer[0] == "refused" else answer[0])
            if answer[0] == "settled":
                seen.add(("settled", answer[1]))
    assert {"quota_exceeded", "rate_limited", ("settled", True)} <= seen
    assert ("settled", False) in seen
