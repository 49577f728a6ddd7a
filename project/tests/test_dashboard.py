"""The admin dashboard's selectors, against factory data with known totals."""

import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import Permission

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.models import UsageRecord
from aiproxy.tests.factories import UsageRecordFactory
from attachments.models import Attachment
from attachments.tests.factories import AttachmentFactory
from documents.tests.factories import DocumentFactory
from project import dashboard

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def test_active_users_counts_by_last_seen_within_7_and_30_days():
    """Accounts seen 1 and 10 days ago are active in 30 days; only the first in 7."""
    for days in [1, 10, 40]:
        UserFactory(last_seen_at=NOW - dt.timedelta(days=days))
    UserFactory(last_seen_at=None)
    UserFactory(last_seen_at=NOW - dt.timedelta(days=1), is_active=False)

    active = dashboard.active_users(now=NOW)

    assert active == dashboard.ActiveUsers(accounts=4, last_7_days=1, last_30_days=2)


def test_active_users_without_accounts_is_zero():
    """No accounts: every count is zero, not None."""
    assert dashboard.active_users(now=NOW) == dashboard.ActiveUsers(0, 0, 0)


def test_content_totals_count_documents_and_ready_storage():
    """Storage is ready attachments' bytes; pending are apart; rejected ignored."""
    document = DocumentFactory()
    DocumentFactory(trashed_at=NOW)
    AttachmentFactory(document=document, size_bytes=1000)
    AttachmentFactory(document=document, size_bytes=2000)
    AttachmentFactory(
        document=document, size_bytes=500, status=Attachment.Status.PENDING
    )
    AttachmentFactory(
        document=document, size_bytes=9999, status=Attachment.Status.REJECTED
    )

    totals = dashboard.content_totals()

    assert totals == dashboard.ContentTotals(
        documents=1,
        documents_in_trash=1,
        attachments=2,
        storage_bytes=3000,
        pending_uploads=1,
        pending_bytes=500,
    )


def test_content_totals_empty_is_zero():
    """Nothing stored: zero bytes, not None."""
    assert dashboard.content_totals() == dashboard.ContentTotals(0, 0, 0, 0, 0, 0)


def test_ai_usage_by_model_sums_this_month_only_costliest_first():
    """Rows of this quota month are summed per model; last month's are left out."""
    UsageRecordFactory(
        at=NOW, model_name="small", prompt_tokens=10, completion_tokens=5, cost="0.01"
    )
    UsageRecordFactory(
        at=NOW - dt.timedelta(days=3),
        model_name="small",
        prompt_tokens=20,
        completion_tokens=0,
        cost="0.02",
        status=UsageRecord.Status.ERROR,
    )
    UsageRecordFactory(
        at=NOW, model_name="big", prompt_tokens=100, completion_tokens=50, cost="1.5"
    )
    UsageRecordFactory(at=NOW - dt.timedelta(days=20), model_name="big", cost="9")

    usage = dashboard.ai_usage_by_model(now=NOW)

    assert usage["period_start"] == dt.date(2026, 6, 1)
    assert usage["models"] == [
        {
            "model": "big",
            "requests": 1,
            "errors": 0,
            "prompt_tokens": 100,
            "completion_tokens": 50,
            "tokens": 150,
            "cost": Decimal("1.5000"),
        },
        {
            "model": "small",
            "requests": 2,
            "errors": 1,
            "prompt_tokens": 30,
            "completion_tokens": 5,
            "tokens": 35,
            "cost": Decimal("0.0300"),
        },
    ]
    assert usage["totals"] == {
        "requests": 3,
        "errors": 1,
        "prompt_tokens": 130,
        "completion_tokens": 55,
        "tokens": 185,
        "cost": Decimal("1.5300"),
    }


def test_ai_usage_by_model_without_rows_has_zero_totals():
    """No requests this month: no models, zero totals."""
    usage = dashboard.ai_usage_by_model(now=NOW)

    assert usage["models"] == []
    assert usage["totals"]["requests"] == 0
    assert usage["totals"]["cost"] == Decimal("0.0000")


def test_ai_top_users_orders_by_cost_then_tokens_and_limits():
    """The costliest user comes first; ties go to the one with more tokens."""
    rich, busy, cheap = (
        UserFactory(email=e) for e in ["a@x.test", "b@x.test", "c@x.test"]
    )
    UsageRecordFactory(at=NOW, user=rich, cost="2", prompt_tokens=1)
    UsageRecordFactory(at=NOW, user=rich, cost="1", prompt_tokens=1)
    UsageRecordFactory(at=NOW, user=busy, cost="3", prompt_tokens=500)
    UsageRecordFactory(at=NOW, user=cheap, cost="3", prompt_tokens=10)
    UsageRecordFactory(at=NOW - dt.timedelta(days=40), user=cheap, cost="100")

    top = dashboard.ai_top_users(now=NOW, limit=2)

    assert [(row["email"], row["requests"], row["cost"]) for row in top] == [
        ("b@x.test", 1, Decimal("3.0000")),
        ("a@x.test", 2, Decimal("3.0000")),
    ]
    assert top[0]["user_id"] == busy.pk
    assert top[0]["tokens"] == 550


def test_ai_daily_has_30_days_with_zeros_and_counts_errors():
    """Each UTC day of the last 30 has its requests, tokens and errors."""
    UsageRecordFactory(at=NOW, prompt_tokens=10, completion_tokens=5)
    UsageRecordFactory(
        at=NOW.replace(hour=0, minute=0),
        prompt_tokens=1,
        completion_tokens=0,
        status=UsageRecord.Status.TIMEOUT,
    )
    UsageRecordFactory(at=NOW - dt.timedelta(days=29), status=UsageRecord.Status.ERROR)
    UsageRecordFactory(at=NOW - dt.timedelta(days=30))  # outside the window
    UsageRecordFactory(
        at=NOW - dt.timedelta(days=2), status=UsageRecord.Status.CANCELLED
    )

    days = dashboard.ai_daily(now=NOW)

    assert len(days) == 30
    assert days[0] == {
        "day": dt.date(2026, 5, 17),
        "requests": 1,
        "tokens": 150,
        "errors": 1,
    }
    assert days[-1] == {
        "day": dt.date(2026, 6, 15),
        "requests": 2,
        "tokens": 16,
        "errors": 1,
    }
    assert days[-3]["requests"] == 1
    assert days[-3]["errors"] == 0
    assert sum(day["requests"] for day in days) == 4
    assert days[1] == {
        "day": dt.date(2026, 5, 18),
        "requests": 0,
        "tokens": 0,
        "errors": 0,
    }


def test_bar_chart_scales_to_the_peak_and_keeps_small_values_visible():
    """The peak fills the height; a value 1000 times smaller keeps one pixel."""
    days = [
        {"day": dt.date(2026, 6, d), "n": n} for d, n in [(1, 0), (2, 1), (3, 1000)]
    ]

    chart = dashboard.bar_chart(days, "n", width=300, height=80)

    assert [bar["height"] for bar in chart["bars"]] == [0, 1, 80]
    assert [bar["y"] for bar in chart["bars"]] == [80, 79, 0]
    assert [bar["x"] for bar in chart["bars"]] == [1, 101, 201]
    assert chart["peak"] == 1000
    assert chart["total"] == 1001


def test_bar_chart_of_zeros_draws_no_bars():
    """A series of zeros has no division by zero and zero-height bars."""
    days = [{"day": dt.date(2026, 6, 1), "n": 0}]

    chart = dashboard.bar_chart(days, "n")

    assert chart["bars"][0]["height"] == 0
    assert chart["peak"] == 0


def test_dashboard_for_superuser_has_every_panel():
    """A superuser sees people, content, AI per model, top users and charts."""
    panels = dashboard.dashboard_for(user=UserFactory(is_superuser=True), now=NOW)

    assert set(panels) == {
        "now",
        "users",
        "content",
        "ai",
        "top_users",
        "daily",
        "charts",
    }
    assert [chart["key"] for chart in panels["charts"]] == [
        "requests",
        "tokens",
        "errors",
    ]


def test_dashboard_for_staff_without_permissions_has_no_panels():
    """Staff who may view nothing see no numbers at all."""
    panels = dashboard.dashboard_for(user=UserFactory(is_staff=True), now=NOW)

    assert set(panels) == {"now"}


def test_dashboard_for_ledger_viewer_without_user_access_has_no_top_users():
    """Viewing the ledger without viewing users shows AI totals but no emails."""
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_usagerecord"))

    panels = dashboard.dashboard_for(user=staff, now=NOW)

    assert set(panels) == {"now", "ai", "daily", "charts"}
