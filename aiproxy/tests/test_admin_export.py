"""The ledger's CSV export: the filtered rows, streamed, totals equal to the page's."""

import csv
import io
from decimal import Decimal

from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.models import UsageRecord
from aiproxy.services.export import USAGE_EXPORT_COLUMNS, usage_export_csv
from aiproxy.tests.factories import AIModelFactory, UsageRecordFactory
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

LEDGER = "/admin/aiproxy/usagerecord/"
EXPORT = "/admin/aiproxy/usagerecord/export/"
HEADER = [column for column, _ in USAGE_EXPORT_COLUMNS]


def _rows(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_is_a_streamed_csv_download(staff_client):
    """The export streams text/csv as an attachment, never cached."""
    UsageRecordFactory()
    response = staff_client.get(EXPORT)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="quire-ai-ledger-'
    )
    assert response["Content-Disposition"].endswith('.csv"')
    assert "no-store" in response["Cache-Control"]


def test_export_row_holds_the_ledger_fields_exactly(staff_client):
    """A row carries the exact cost, tokens, status, user and document, UTC times."""
    document = DocumentFactory()
    record = UsageRecordFactory(
        user=document.owner,
        document=document,
        action="summarize",
        cost=Decimal("0.0114275000"),
        prompt_tokens=70,
        completion_tokens=30,
        status="error",
        error_code="upstream_error",
    )
    [row] = _rows(staff_client.get(EXPORT))
    assert list(row) == HEADER
    assert row["id"] == str(record.pk)
    assert row["user_email"] == document.owner.email
    assert row["user_id"] == str(document.owner.pk)
    assert row["document_id"] == str(document.pk)
    assert (row["model"], row["action"]) == (record.model_name, "summarize")
    assert (row["status"], row["error_code"]) == ("error", "upstream_error")
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        "70",
        "30",
        "100",
    )
    assert row["cost_usd"] == "0.0114275000"
    assert row["created_at_utc"] == record.created_at.strftime("%Y-%m-%d %H:%M:%S")
    assert row["streamed"] == "false"


def test_export_respects_the_lists_filters_and_search(staff_client):
    """Only the rows the list's filters and search keep are exported."""
    alice, bob = UserFactory(email="alice@example.com"), UserFactory()
    UsageRecordFactory(user=alice, status="ok")
    UsageRecordFactory(user=alice, status="refused", error_code="rate_limited")
    UsageRecordFactory(user=bob, status="ok")
    rows = _rows(staff_client.get(EXPORT, {"status__exact": "ok", "q": "alice@"}))
    assert [(row["user_email"], row["status"]) for row in rows] == [
        ("alice@example.com", "ok")
    ]


def test_export_covers_every_page(staff_client, monkeypatch):
    """The export holds all filtered rows, not the page shown."""
    from aiproxy.admin import UsageRecordAdmin

    monkeypatch.setattr(UsageRecordAdmin, "list_per_page", 2)
    UsageRecordFactory.create_batch(5)
    assert len(_rows(staff_client.get(EXPORT, {"p": "1"}))) == 5


def test_export_totals_equal_the_pages_totals(staff_client):
    """The CSV's sums equal the grand totals the list shows for the same filter."""
    small, large = AIModelFactory(name="small"), AIModelFactory(name="large")
    user = UserFactory()
    for model, cost, prompt in [
        (small, "0.0000012345", 11),
        (small, "0.0114275000", 970),
        (large, "1.5000000001", 12345),
    ]:
        UsageRecordFactory(
            user=user, model=model, cost=Decimal(cost), prompt_tokens=prompt
        )
    UsageRecordFactory(model=large, cost=Decimal("9"))  # filtered out
    query = {"user__id__exact": user.pk}
    total = staff_client.get(LEDGER, query).context_data["ledger_totals"].total
    rows = _rows(staff_client.get(EXPORT, query))
    assert sum(Decimal(row["cost_usd"]) for row in rows) == total["cost"]
    assert sum(int(row["total_tokens"]) for row in rows) == total["tokens"]
    assert len(rows) == total["requests"] + total["refused"]


def test_export_leaks_no_other_field(staff_client):
    """No prompt, document title or account secret is in the export."""
    document = DocumentFactory(title="Secret merger plan")
    UsageRecordFactory(user=document.owner, document=document)
    text = b"".join(staff_client.get(EXPORT).streaming_content).decode()
    assert "Secret merger plan" not in text
    assert document.owner.password not in text
    assert text.splitlines()[0].split(",") == HEADER


def test_export_neutralises_spreadsheet_formulas(staff_client):
    """A cell a spreadsheet would run as a formula starts with a quote."""
    UsageRecordFactory(model=None, model_name='=HYPERLINK("http://x")')
    [row] = _rows(staff_client.get(EXPORT))
    assert row["model"] == '\'=HYPERLINK("http://x")'


def test_export_needs_the_view_permission(client):
    """A staff member without the ledger's view permission gets 403."""
    client.force_login(UserFactory(is_staff=True))
    assert client.get(EXPORT).status_code == 403


def test_export_anonymous_redirected_to_sign_in(client):
    """Without a staff session the export redirects to the admin sign-in."""
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_export_bad_filter_returns_to_the_list(staff_client):
    """A filter the list refuses sends staff back to the list (?e=1), no CSV."""
    response = staff_client.get(EXPORT, {"status__nonsense": "1"})
    assert response.status_code == 302
    assert response["Location"] == f"{LEDGER}?e=1"


def test_export_action_exports_the_selected_rows(staff_client):
    """The "Export the selected rows as CSV" action exports just those rows."""
    chosen, _other = UsageRecordFactory(), UsageRecordFactory()
    response = staff_client.post(
        LEDGER,
        {"action": "export_selected_csv", "_selected_action": [str(chosen.pk)]},
    )
    assert [row["id"] for row in _rows(response)] == [str(chosen.pk)]


def test_export_list_has_the_export_button_with_the_filters(staff_client):
    """The list's "Export CSV" button carries the list's query string."""
    UsageRecordFactory()
    content = staff_client.get(LEDGER, {"status__exact": "ok"}).content.decode()
    assert f'href="{EXPORT}?status__exact=ok"' in content


def test_export_streams_in_one_query(django_assert_num_queries):
    """The rows come from one query whatever their number (no N+1)."""
    UsageRecordFactory.create_batch(3, document=DocumentFactory())
    response = usage_export_csv(UsageRecord.objects.order_by("created_at"))
    with django_assert_num_queries(1):
        lines = list(response.streaming_content)
    assert len(lines) == 4


def test_export_reads_more_rows_than_one_chunk(staff_client):
    """An export larger than one fetch (2,000 rows) streams every row once."""
    from aiproxy.services.export import CHUNK_ROWS

    user, model = UserFactory(), AIModelFactory()
    template = UsageRecordFactory.build(user=user, model=model)
    UsageRecord.objects.bulk_create(
        [
            UsageRecord(
                user=user,
                model=model,
                model_name=model.name,
                provider=model.provider,
                period_start=template.period_start,
                status="ok",
                cost=Decimal("0.0000000001"),
            )
            for _ in range(CHUNK_ROWS + 7)
        ]
    )
    rows = _rows(staff_client.get(EXPORT))
    assert len(rows) == CHUNK_ROWS + 7
    assert len({row["id"] for row in rows}) == CHUNK_ROWS + 7
    assert sum(Decimal(row["cost_usd"]) for row in rows) == Decimal("0.0000002007")


def test_users_export_carries_this_months_ai_usage(staff_client):
    """The users CSV adds this month's requests, tokens and exact cost, refusals out."""
    import datetime as dt

    from aiproxy.selectors import period_start_for

    ada = UserFactory(email="ada@example.com")
    UsageRecordFactory(
        user=ada, prompt_tokens=10, completion_tokens=5, cost=Decimal("0.0000012345")
    )
    UsageRecordFactory(
        user=ada, prompt_tokens=100, completion_tokens=0, cost=Decimal("0.5")
    )
    UsageRecordFactory(
        user=ada,
        status="refused",
        error_code="rate_limited",
        prompt_tokens=0,
        completion_tokens=0,
        cost=0,
    )
    last_month = period_start_for(timezone.now()) - dt.timedelta(days=1)
    UsageRecordFactory(
        user=ada, period_start=last_month.replace(day=1), cost=Decimal("7")
    )
    UserFactory(email="idle@example.com")
    response = staff_client.get("/admin/accounts/user/export/")
    rows = {row["email"]: row for row in _rows(response)}
    ada_row, idle = rows["ada@example.com"], rows["idle@example.com"]
    assert (ada_row["ai_requests_this_month"], ada_row["ai_tokens_this_month"]) == (
        "2",
        "115",
    )
    assert Decimal(ada_row["ai_cost_this_month_usd"]) == Decimal("0.5000012345")
    assert (idle["ai_requests_this_month"], idle["ai_tokens_this_month"]) == ("0", "0")
    assert Decimal(idle["ai_cost_this_month_usd"]) == 0
