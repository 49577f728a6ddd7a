"""The staff admin: branding, favicon, times, order, links, a user's AI usage."""

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import pytest

from accounts.models import AccountTombstone
from accounts.tests.factories import UserFactory
from aiproxy.models import QuotaCounter
from aiproxy.selectors import period_start_for
from aiproxy.tests.factories import UsageRecordFactory, UserQuotaFactory
from attachments.tests.factories import AttachmentFactory
from documents.models import Document
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db


def test_admin_index_is_branded_quire_administration(staff_client):
    """The header and the page title say "Quire administration", not Django's."""
    page = staff_client.get("/admin/").content.decode()

    assert '<a href="/admin/">Quire administration</a>' in page
    assert "<title>Overview | Quire administration</title>" in page
    assert "Django administration" not in page


def test_admin_view_site_links_to_the_web_app(staff_client, client):
    """ "View site" leads to the web app at ``/``, which answers (no 404)."""
    page = staff_client.get("/admin/").content.decode()

    assert '<a href="/">View site</a>' in page
    assert client.get("/").status_code in (200, 302)


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/"])
def test_admin_pages_link_the_favicon(staff_client, path):
    """Every admin page, sign-in included, names ``/favicon.ico`` as its icon."""
    page = staff_client.get(path, follow=True).content.decode()

    assert '<link rel="icon" href="/favicon.ico"' in page


def test_favicon_is_served_at_the_root(client):
    """``/favicon.ico`` is an icon (whitenoise, no 404), for the admin and the web app."""
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


def test_admin_times_show_seconds_and_time_zone(staff_client):
    """Times read ``2026-06-15 12:34:56 UTC``: to the second, with the zone."""
    user = UserFactory(last_seen_at=dt.datetime(2026, 6, 15, 12, 34, 56, tzinfo=dt.UTC))

    listing = staff_client.get("/admin/accounts/user/").content.decode()
    page = staff_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()

    assert "2026-06-15 12:34:56 UTC" in listing
    assert "2026-06-15 12:34:56 UTC" in page


def test_admin_documents_list_newest_updated_first(staff_client):
    """Documents are listed by their last update, newest first."""
    now = timezone.now()
    for title, days in [("old", 3), ("newest", 0), ("middle", 1)]:
        document = DocumentFactory(title=title)
        Document.objects.filter(pk=document.pk).update(
            updated_at=now - dt.timedelta(days=days)
        )

    page = staff_client.get("/admin/documents/document/").content.decode()

    titles = re.findall(r'class="field-title"><a [^>]*>([a-z]+)</a>', page)
    assert titles == ["newest", "middle", "old"]


def test_admin_document_page_titles_its_grants_document_accesses(staff_client):
    """The sharing section is titled "Document accesses" (no "ACCESSS")."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document)

    page = staff_client.get(f"/admin/documents/document/{document.pk}/change/")

    assert b"Document accesses" in page.content
    assert b"accesss" not in page.content.lower()


def test_admin_document_list_links_the_owner(staff_client):
    """The owner cell links to the owner's user page."""
    document = DocumentFactory()

    page = staff_client.get("/admin/documents/document/").content.decode()

    owner_url = f"/admin/accounts/user/{document.owner.pk}/change/"
    assert f'<a href="{owner_url}">{document.owner.email}</a>' in page


def test_admin_attachment_list_links_document_and_uploader(staff_client):
    """The document and uploader cells link to their pages."""
    attachment = AttachmentFactory()

    page = staff_client.get("/admin/attachments/attachment/").content.decode()

    assert f"/admin/documents/document/{attachment.document.pk}/change/" in page
    assert f"/admin/accounts/user/{attachment.uploaded_by.pk}/change/" in page


def test_admin_document_page_links_its_attachments_and_ledger_rows(staff_client):
    """A document's page links to its attachments and its AI ledger rows."""
    document = DocumentFactory()
    AttachmentFactory(document=document)
    AttachmentFactory(document=document)

    page = staff_client.get(f"/admin/documents/document/{document.pk}/change/")

    html = page.content.decode()
    assert (
        f'<a href="/admin/attachments/attachment/?document={document.pk}">'
        "2 attachments</a>"
    ) in html
    assert f'href="/admin/aiproxy/usagerecord/?document={document.pk}"' in html


def test_admin_user_page_links_documents_attachments_and_ledger(staff_client):
    """A user's page links to filtered lists of their documents, files and AI rows."""
    user = UserFactory()
    DocumentFactory(owner=user)
    DocumentFactory(owner=user, trashed_at=timezone.now())
    AttachmentFactory(document=DocumentFactory(owner=user))
    DocumentAccessFactory(user=user)

    html = staff_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()

    assert (
        f'<a href="/admin/documents/document/?owner={user.pk}">'
        "3 documents owned (1 in the trash)</a> · 1 document shared with them"
    ) in html
    assert (
        f'<a href="/admin/attachments/attachment/?uploaded_by={user.pk}">'
        "1 attachment</a>"
    ) in html
    assert f'href="/admin/aiproxy/usagerecord/?user={user.pk}"' in html


@pytest.mark.parametrize(
    ("url", "field", "count"),
    [
        ("/admin/documents/document/?owner={pk}", "owner", 2),
        ("/admin/attachments/attachment/?uploaded_by={pk}", "uploaded_by", 1),
        ("/admin/aiproxy/usagerecord/?user={pk}", "user", 3),
    ],
)
def test_admin_filtered_lists_show_only_that_users_rows(
    staff_client, url, field, count
):
    """The user page's links open lists holding that user's rows only."""
    user, other = UserFactory(), UserFactory()
    for owner, n in [(user, 2), (other, 1)]:
        for _ in range(n):
            document = DocumentFactory(owner=owner)
        AttachmentFactory(document=document)
    for _ in range(3):
        UsageRecordFactory(user=user)
    UsageRecordFactory(user=other)

    response = staff_client.get(url.format(pk=user.pk))

    assert response.status_code == 200
    assert response.context["cl"].result_count == count
    assert {getattr(row, field) for row in response.context["cl"].result_list} == {user}


def test_admin_user_page_shows_this_months_ai_usage_and_quota_left(staff_client):
    """The page shows the quota service's numbers: used, reserved, left, per model."""
    user = UserFactory()
    UserQuotaFactory(user=user, tokens_per_month=10_000, requests_per_minute=30)
    now = timezone.now()
    QuotaCounter.objects.create(
        user=user,
        period_start=period_start_for(now),
        used_tokens=1_500,
        reserved_tokens=500,
    )
    UsageRecordFactory(
        user=user,
        model_name="quire-mock",
        prompt_tokens=1_000,
        completion_tokens=500,
        cost="0.5",
    )
    UsageRecordFactory(
        user=user, at=now - dt.timedelta(days=40), prompt_tokens=9, cost="7"
    )

    html = staff_client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()

    assert "Tokens: <strong>8,000 left</strong> of 10,000 until " in html
    assert "(1,500 used, 500 reserved by requests in flight)" in html
    assert "Requests: 1 (at most 30 a minute). Cost: $0.5000." in html
    assert (
        '<td>quire-mock</td><td class="num">1</td><td class="num">1,000</td>'
        '<td class="num">500</td><td class="num">$0.5000</td>'
    ) in html


def test_admin_document_save_queries_do_not_grow_with_grants(staff_client):
    """Saving a document's page unchanged costs the same with 1 and 20 grants."""

    def save(grants: int) -> int:
        document = DocumentFactory()
        for _ in range(grants):
            DocumentAccessFactory(document=document)
        accesses = list(document.accesses.order_by("created_at", "pk"))
        data = {
            "accesses-TOTAL_FORMS": str(len(accesses)),
            "accesses-INITIAL_FORMS": str(len(accesses)),
            "revisions-TOTAL_FORMS": "0",
            "revisions-INITIAL_FORMS": "0",
        }
        for index, access in enumerate(accesses):
            data[f"accesses-{index}-id"] = str(access.pk)
            data[f"accesses-{index}-document"] = str(document.pk)
            data[f"accesses-{index}-role"] = access.role
        url = f"/admin/documents/document/{document.pk}/change/"
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.post(url, data)
        assert response.status_code == 302, response.content[:2000]
        return len(captured.captured_queries)

    save(1)  # warm up content types
    assert save(20) == save(1)


def test_admin_dashboard_has_no_inline_script_and_nothing_from_elsewhere(
    staff_client,
):
    """The dashboard draws its charts with SVG: no inline script, no CDN."""
    UsageRecordFactory()

    response = staff_client.get("/admin/")
    page = response.content.decode()

    dashboard = page[page.index('id="quire-dashboard"') : page.index("app-accounts")]
    assert "<svg" in dashboard
    assert "<script" not in dashboard
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_admin_tombstone_title_shows_seconds_and_zone(staff_client):
    """A deleted account's page names it with its deletion time to the second."""
    tombstone = AccountTombstone.objects.create(
        sub="gone-sub",
        deleted_at=dt.datetime(2026, 6, 15, 12, 34, 56, tzinfo=dt.UTC),
        deleted_by=AccountTombstone.DeletedBy.STAFF,
    )

    page = staff_client.get(
        f"/admin/accounts/accounttombstone/{tombstone.pk}/change/"
    ).content.decode()

    assert "gone-sub (deleted 2026-06-15 12:34:56 UTC)" in page
