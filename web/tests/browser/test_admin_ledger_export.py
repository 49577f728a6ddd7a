"""The AI ledger in a real browser: the CSV export's totals match the page's."""

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

STAFF_EMAIL = "finance@example.com"
STAFF_PASSWORD = "finance-password-for-tests"  # noqa: S105


@pytest.fixture
def ledger_rows(app_url):
    """Return the user whose ledger rows the test filters on; others' rows too."""
    from accounts.models import User
    from accounts.tests.factories import UserFactory
    from aiproxy.tests.factories import AIModelFactory, UsageRecordFactory
    from documents.tests.factories import DocumentFactory

    User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD)
    ada = UserFactory(email="ada@example.com")
    small = AIModelFactory(name="quire-small", provider="mock")
    large = AIModelFactory(name="quire-large-with-a-long-model-name", provider="mock")
    plan = DocumentFactory(owner=ada, title="A plan whose title is rather long too")
    for model, cost, prompt, completion in [
        (small, "0.0114275000", 1200, 340),
        (small, "0.0000012345", 11, 0),
        (large, "1.2500000001", 20000, 12345),
    ]:
        UsageRecordFactory(
            user=ada,
            model=model,
            document=plan,
            action="summarize",
            cost=Decimal(cost),
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
    UsageRecordFactory(
        user=ada,
        model=None,
        model_name="opena1-typo",
        status="refused",
        error_code="model_not_found",
        prompt_tokens=0,
        completion_tokens=0,
        cost=0,
    )
    UsageRecordFactory(model=large, cost=Decimal("99"))  # someone else's
    return ada


def _sign_in(page, app_url: str) -> None:  # noqa: ANN001
    page.goto(f"{app_url}/admin/")
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{app_url}/admin/")


def test_ledger_export_downloads_a_csv_whose_totals_match_the_page(
    page, app_url, ledger_rows, shot
):
    """Filtered to one user, the downloaded CSV sums to the totals shown above the list."""
    _sign_in(page, app_url)
    page.goto(f"{app_url}/admin/aiproxy/usagerecord/?user__id__exact={ledger_rows.pk}")
    grand = page.locator("#ai-ledger-grand-total")
    expect(grand.locator('[data-total="requests"]')).to_have_text("3")
    expect(grand.locator('[data-total="refused"]')).to_have_text("1")
    shown_cost = grand.locator('[data-total="cost"]').inner_text()
    exact_cost = Decimal(
        grand.locator('[data-total="cost"]').get_attribute("data-exact")
    )
    shown_tokens = int(grand.locator('[data-total="tokens"]').inner_text())
    assert shown_cost == "$1.2614"
    shot(page, "ledger")

    with page.expect_download() as caught:
        page.get_by_role("link", name="Export CSV").click()
    download = caught.value
    assert download.suggested_filename.startswith("quire-ai-ledger-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))

    assert {row["user_email"] for row in rows} == {"ada@example.com"}
    assert len(rows) == 4
    assert sum(Decimal(row["cost_usd"]) for row in rows) == exact_cost
    assert exact_cost == Decimal("1.2614287346")
    assert sum(int(row["total_tokens"]) for row in rows) == shown_tokens
    assert [row["error_code"] for row in rows if row["status"] == "refused"] == [
        "model_not_found"
    ]


def test_ledger_list_fits_1280_px(page, app_url, ledger_rows, shot):
    """At 1280 px, beside the navigation and the filters, no column is cut off."""
    _sign_in(page, app_url)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{app_url}/admin/aiproxy/usagerecord/")
    expect(page.locator("#result_list")).to_be_visible()
    shot(page, "ledger-1280")
    widths = page.evaluate(
        """() => {
            const box = document.querySelector('#changelist .results');
            return {scroll: box.scrollWidth, client: box.clientWidth,
                    page: document.documentElement.scrollWidth};
        }"""
    )
    assert widths["scroll"] <= widths["client"], widths
    assert widths["page"] <= 1280, widths
    box = page.locator("#changelist .results").bounding_box()
    for column in ("status_display", "tokens", "cost_display"):
        cell = page.locator(f"#result_list td.field-{column}").first
        edge = cell.bounding_box()
        assert edge["x"] + edge["width"] <= box["x"] + box["width"] + 1, column
