"""The staff admin in a real browser: sign in, the dashboard, deletion, the ledger's CSV."""

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

STAFF_EMAIL = "staff@example.com"
STAFF_PASSWORD = "staff-password-for-tests"  # noqa: S105


@pytest.fixture
def staff(app_url):
    """Return a superuser who signs in to the admin with a password."""
    from accounts.models import User

    return User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD)


@pytest.fixture
def admin_sign_in(app_url, staff):
    """Return ``admin_sign_in(page)``: the admin's sign-in form, as staff use it."""

    def run(page):  # noqa: ANN001, ANN202
        page.goto(f"{app_url}/admin/")
        page.get_by_label("Email").fill(STAFF_EMAIL)
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#site-name")).to_have_text("Quire administration")
        return page

    return run


@pytest.fixture
def known_data(staff):
    """Rows with known totals: users, documents, files and this month's AI usage."""
    from accounts.tests.factories import UserFactory
    from aiproxy.models import UsageRecord
    from aiproxy.tests.factories import UsageRecordFactory
    from attachments.models import Attachment
    from attachments.tests.factories import AttachmentFactory
    from documents.tests.factories import DocumentFactory

    now = timezone.now()
    ada = UserFactory(email="ada@example.com", last_seen_at=now - dt.timedelta(days=2))
    bob = UserFactory(email="bob@example.com", last_seen_at=now - dt.timedelta(20))
    UserFactory(email="old@example.com", last_seen_at=now - dt.timedelta(days=90))
    plan = DocumentFactory(owner=ada, title="Plan")
    DocumentFactory(owner=ada, title="Notes")
    DocumentFactory(owner=bob, title="Gone", trashed_at=now)
    AttachmentFactory(document=plan, size_bytes=1536)
    AttachmentFactory(document=plan, size_bytes=512)
    AttachmentFactory(document=plan, size_bytes=4096, status=Attachment.Status.PENDING)
    UsageRecordFactory(
        user=ada,
        model_name="quire-mock",
        prompt_tokens=1200,
        completion_tokens=300,
        cost="0.0300",
    )
    UsageRecordFactory(
        user=bob,
        model_name="quire-mock",
        prompt_tokens=100,
        completion_tokens=0,
        cost="0.0100",
        status=UsageRecord.Status.ERROR,
    )
    UsageRecordFactory(
        user=bob,
        model_name="quire-big",
        prompt_tokens=2000,
        completion_tokens=1000,
        cost="1.2500",
    )
    return {"ada": ada, "bob": bob}


def test_admin_dashboard_shows_the_numbers_of_the_data(
    page, app_url, admin_sign_in, known_data, shot
):
    """Staff sign in and the dashboard shows the factory data's totals."""
    admin_sign_in(page)

    # Active: ada (2 days) in both windows, bob (20 days) in 30 only; the
    # staff account signed in just now is seen by its next API call only.
    expect(page.locator("#dashboard-active-7")).to_have_text("1")
    expect(page.locator("#dashboard-active-30")).to_have_text("2")
    expect(page.locator("#dashboard-documents")).to_have_text("2")
    expect(page.locator("#dashboard-trashed")).to_have_text("1")
    expect(page.locator("#dashboard-attachments")).to_have_text("2")
    expect(page.locator("#dashboard-storage")).to_have_text("2.0\xa0KB")
    expect(page.locator("#dashboard-storage")).to_have_attribute("title", "2048 bytes")

    models = page.locator("#dashboard-ai-models tbody tr")
    expect(models).to_have_count(2)
    expect(models.nth(0)).to_contain_text("quire-big")
    expect(models.nth(0).locator("td")).to_have_text(["1", "0", "3,000", "$1.2500"])
    expect(models.nth(1).locator("td")).to_have_text(["2", "1", "1,600", "$0.0400"])
    expect(page.locator("#dashboard-ai-total td")).to_have_text(
        ["3", "1", "4,600", "$1.2900"]
    )

    top = page.locator("#dashboard-top-users tbody tr")
    expect(top).to_have_count(2)
    expect(top.nth(0)).to_contain_text("bob@example.com")
    expect(top.nth(0).locator("td")).to_have_text(["2", "3,100", "$1.2600"])

    expect(page.locator("#dashboard-requests-total")).to_have_text("3")
    expect(page.locator("#dashboard-tokens-total")).to_have_text("4,600")
    expect(page.locator("#dashboard-errors-total")).to_have_text("1")
    expect(page.locator("#dashboard-daily svg rect")).to_have_count(90)
    shot(page, "dashboard")

    top.nth(0).get_by_role("link", name="bob@example.com").click()
    expect(page.locator("#ai-usage-summary")).to_contain_text("Requests: 2")
    shot(page, "user")


def test_admin_user_deletion_through_confirmation_removes_documents(
    page, app_url, admin_sign_in, known_data, shot
):
    """Deleting a user from their page, confirmed, removes their documents."""
    from accounts.models import User
    from documents.models import Document

    ada = known_data["ada"]
    admin_sign_in(page)
    page.goto(f"{app_url}/admin/accounts/user/{ada.pk}/change/")
    page.get_by_role("link", name="Delete", exact=True).click()

    expect(page.locator("#content")).to_contain_text("2 documents")
    shot(page, "confirm")
    page.get_by_role("button", name="Yes, I’m sure").click()

    expect(page.locator(".messagelist")).to_contain_text("deleted successfully")
    assert not User.objects.filter(pk=ada.pk).exists()
    assert not Document.objects.filter(owner_id=ada.pk).exists()
    assert Document.objects.filter(owner=known_data["bob"]).count() == 1


@pytest.fixture
def ledger_rows(staff):
    """Return the user whose ledger rows the test filters on; others' rows too."""
    from accounts.tests.factories import UserFactory
    from aiproxy.tests.factories import AIModelFactory, UsageRecordFactory
    from documents.tests.factories import DocumentFactory

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


def test_admin_ledger_export_downloads_a_csv_whose_totals_match_the_page(
    page, app_url, admin_sign_in, ledger_rows, shot
):
    """Filtered to one user, the downloaded CSV sums to the totals shown above the list."""
    admin_sign_in(page)
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


def test_admin_ledger_list_fits_1280_px(
    page, app_url, admin_sign_in, ledger_rows, shot
):
    """At 1280 px, beside the navigation and the filters, no column is cut off."""
    admin_sign_in(page)
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
