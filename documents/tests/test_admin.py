from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import pytest

from documents.models import Document
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/documents/document/"


def test_admin_changelist_query_count_is_constant(
    staff_client,
):
    """The document list costs the same for 1 and 30 documents (no N+1)."""
    DocumentAccessFactory(document=DocumentFactory())
    staff_client.get(CHANGELIST)  # warm up session and content types

    with CaptureQueriesContext(connection) as one:
        assert staff_client.get(CHANGELIST).status_code == 200
    for _ in range(29):
        DocumentAccessFactory(document=DocumentFactory())
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(CHANGELIST).status_code == 200

    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.parametrize(
    "query",
    ["?q=plan", "?trashed=yes", "?shared=yes", "?shared=no", "?trashed=no"],
)
def test_admin_changelist_search_and_filters(staff_client, query):
    """Search by title/owner email and the trashed/shared filters work."""
    DocumentFactory(title="Plan")

    assert staff_client.get(CHANGELIST + query).status_code == 200


def test_admin_change_page_shows_revisions_and_grants(staff_client):
    """The change page renders with both inlines."""
    document = DocumentFactory(title="Plan")
    DocumentAccessFactory(document=document)

    response = staff_client.get(f"{CHANGELIST}{document.pk}/change/")

    assert response.status_code == 200
    assert b"Document revisions" in response.content


def test_admin_restore_action_restores_trashed(staff_client):
    """The restore action takes documents out of the trash."""
    document = DocumentFactory(trashed_at=timezone.now())

    staff_client.post(
        CHANGELIST, {"action": "restore_from_trash", "_selected_action": [document.pk]}
    )

    document.refresh_from_db()
    assert document.trashed_at is None


def test_admin_purge_action_erases_only_trashed(staff_client):
    """The purge action erases trashed documents and keeps live ones."""
    trashed = DocumentFactory(trashed_at=timezone.now())
    live = DocumentFactory()

    staff_client.post(
        CHANGELIST, {"action": "purge", "_selected_action": [trashed.pk, live.pk]}
    )

    assert list(Document.objects.values_list("pk", flat=True)) == [live.pk]
