"""The ledger's admin list: money, totals of the filtered rows, links, columns."""

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from aiproxy.admin import UsageRecordAdmin
from aiproxy.tests.factories import AIModelFactory, UsageRecordFactory
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

LEDGER = "/admin/aiproxy/usagerecord/"


def test_ledger_cost_prints_in_dollars_with_four_decimals(staff_client):
    """A cost of 0.0114275 prints as $0.0114, never with 16 decimals."""
    UsageRecordFactory(cost=Decimal("0.0114275000"))
    content = staff_client.get(LEDGER).content.decode()
    assert "$0.0114" in content
    assert "0.0114275000000000" not in content
    assert '<td class="field-cost_display">$0.0114</td>' in content


def test_ledger_totals_per_model_and_overall_of_filtered_rows(staff_client):
    """Totals sum every row the filter keeps, per model and in all."""
    alice = UserFactory()
    small, large = AIModelFactory(name="small"), AIModelFactory(name="large")
    UsageRecordFactory(user=alice, model=small, cost=Decimal("0.001"))
    UsageRecordFactory(user=alice, model=small, cost=Decimal("0.002"))
    UsageRecordFactory(user=alice, model=large, prompt_tokens=7, cost=Decimal("1"))
    UsageRecordFactory(model=large, cost=Decimal("50"))  # someone else: filtered out
    response = staff_client.get(LEDGER, {"user__id__exact": alice.pk})
    totals = response.context_data["ledger_totals"]
    assert [(row["model"], row["requests"]) for row in totals.by_model] == [
        ("large", 1),
        ("small", 2),
    ]
    assert totals.total == {
        "requests": 3,
        "refused": 0,
        "prompt_tokens": 207,
        "completion_tokens": 150,
        "tokens": 357,
        "cost": Decimal("1.003"),
    }
    assert 'id="ai-ledger-grand-total"' in response.content.decode()


def test_ledger_totals_count_rows_beyond_the_page(staff_client, monkeypatch):
    """The totals cover all filtered rows, not only the page shown."""
    monkeypatch.setattr(UsageRecordAdmin, "list_per_page", 2)
    UsageRecordFactory.create_batch(5, cost=Decimal("0.01"))
    response = staff_client.get(LEDGER)
    assert len(response.context_data["cl"].result_list) == 2
    assert response.context_data["ledger_totals"].total["requests"] == 5
    assert response.context_data["ledger_totals"].total["cost"] == Decimal("0.05")


def test_ledger_totals_absent_when_no_rows(staff_client):
    """With no rows, there is no totals table."""
    response = staff_client.get(LEDGER)
    assert response.status_code == 200
    assert 'id="ai-ledger-totals"' not in response.content.decode()


def test_ledger_user_and_document_cells_link_to_their_pages(staff_client):
    """The user and document cells are links to their admin pages."""
    document = DocumentFactory(title="Quarterly plan")
    row = UsageRecordFactory(user=document.owner, document=document)
    content = staff_client.get(LEDGER).content.decode()
    assert f'href="/admin/accounts/user/{row.user.pk}/change/"' in content
    assert f'href="/admin/documents/document/{document.pk}/change/"' in content
    assert "Quarterly plan" in content


def test_ledger_list_keeps_few_columns(staff_client):
    """The list shows six columns; the details are on the row's page."""
    assert len(UsageRecordAdmin.list_display) == 6
    assert "latency_ms" not in UsageRecordAdmin.list_display


def test_ledger_row_page_shows_the_details(staff_client):
    """The row's page shows latency, error code and the formatted cost."""
    row = UsageRecordFactory(
        status="error", error_code="upstream_error", latency_ms=4321, cost=0
    )
    response = staff_client.get(f"{LEDGER}{row.pk}/change/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "upstream_error" in content
    assert "4321" in content
    assert "$0.00" in content


def test_ledger_status_cell_carries_the_error_code(staff_client):
    """A failed row's status cell names its error code, breakable at underscores."""
    UsageRecordFactory(status="timeout", error_code="upstream_timeout")
    assert (
        '<td class="field-status_display">timeout<br>'
        '<span class="quiet">upstream_<wbr>timeout</span></td>'
    ) in staff_client.get(LEDGER).content.decode()


def test_ledger_request_cell_names_the_action_of_a_document_request(staff_client):
    """A document action's row says the model, the action and the document."""
    document = DocumentFactory(title="Plan")
    UsageRecordFactory(document=document, action="translate", model_name="m-1")
    content = staff_client.get(LEDGER).content.decode()
    assert 'm-1<br><span class="quiet">Translate · <a href=' in content


def test_ledger_user_cell_breaks_after_the_at_sign(staff_client):
    """A long email may wrap after its "@" in the narrow user column."""
    UsageRecordFactory(user=UserFactory(email="someone.long@example.com"))
    assert (
        "someone.long@<wbr>example.com</a>" in staff_client.get(LEDGER).content.decode()
    )


def test_ledger_totals_count_refused_rows_apart(staff_client):
    """A refused row counts under "refused", not under requests, with no cost."""
    UsageRecordFactory(cost=Decimal("0.5"))
    UsageRecordFactory(
        status="refused",
        error_code="rate_limited",
        prompt_tokens=0,
        completion_tokens=0,
        cost=0,
    )
    response = staff_client.get(LEDGER)
    total = response.context_data["ledger_totals"].total
    assert (total["requests"], total["refused"], total["cost"]) == (
        1,
        1,
        Decimal("0.5"),
    )
    assert '<th data-total="refused">1</th>' in response.content.decode()
