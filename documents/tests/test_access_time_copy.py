"""Each grant's copy of its document's ``updated_at`` follows the document.

The copy is kept by database triggers (migration 0006) on SQLite and
PostgreSQL alike; the shared branch of a list page sorts on it.
"""

from datetime import timedelta

from django.utils import timezone

import pytest

from accounts.tests.factories import UserFactory
from documents import selectors, services
from documents.models import Document, DocumentAccess
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db


def copies(document: Document) -> set:
    """Return the set of the document's grants' copies of its time."""
    return set(
        DocumentAccess.objects.filter(document=document).values_list(
            "document_updated_at", flat=True
        )
    )


def current_time(document: Document):
    return Document.objects.values_list("updated_at", flat=True).get(pk=document.pk)


def test_grant_takes_its_documents_time_when_made():
    """A new grant (and a pending invitation) carries the document's time."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document)
    DocumentAccessFactory(document=document, user=None, email="new@example.com")

    assert copies(document) == {current_time(document)}


def test_bulk_created_grants_take_their_documents_time():
    """Grants inserted in bulk (no save()) are filled in by the database too."""
    documents = [DocumentFactory(), DocumentFactory()]
    DocumentAccess.objects.bulk_create(
        DocumentAccess(document=d, user=UserFactory(), email=f"{i}@example.com")
        for i, d in enumerate(documents)
    )

    for document in documents:
        assert copies(document) == {current_time(document)}


def test_document_write_passes_its_time_to_every_grant(user):
    """The compare-and-swap write moves the copies along with the document."""
    document = DocumentFactory(owner=user)
    DocumentAccessFactory(document=document)
    DocumentAccessFactory(document=document)
    before = current_time(document)

    services.document_update(
        document=selectors.document_get_for_user(user=user, document_id=document.pk),
        user=user,
        expected_version=1,
        title="changed",
    )

    assert current_time(document) > before
    assert copies(document) == {current_time(document)}


def test_queryset_update_of_the_time_passes_it_to_grants():
    """Any write path that sets updated_at is followed, even a bare UPDATE."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document)
    earlier = timezone.now() - timedelta(days=3)

    Document.objects.filter(pk=document.pk).update(updated_at=earlier)

    assert copies(document) == {earlier}


def test_other_documents_grants_keep_their_time():
    """Only the changed document's grants move."""
    changed, untouched = DocumentFactory(), DocumentFactory()
    DocumentAccessFactory(document=changed)
    DocumentAccessFactory(document=untouched)
    untouched_time = current_time(untouched)

    Document.objects.filter(pk=changed.pk).update(
        updated_at=timezone.now() + timedelta(minutes=5)
    )

    assert copies(untouched) == {untouched_time}


def test_grant_moved_to_another_document_takes_that_documents_time():
    """A grant pointed at another document takes the new document's time."""
    first, second = DocumentFactory(), DocumentFactory()
    Document.objects.filter(pk=second.pk).update(
        updated_at=timezone.now() - timedelta(days=1)
    )
    access = DocumentAccessFactory(document=first)

    DocumentAccess.objects.filter(pk=access.pk).update(document=second)

    assert copies(second) == {current_time(second)}


def test_full_save_of_a_grant_does_not_write_a_stale_copy():
    """Saving a grant instance whose copy is out of date leaves the right time."""
    document = DocumentFactory()
    access = DocumentAccessFactory(document=document)
    access.refresh_from_db()
    Document.objects.filter(pk=document.pk).update(
        updated_at=timezone.now() + timedelta(minutes=1)
    )

    access.role = DocumentAccess.GrantRole.EDITOR
    access.save()  # every column, including the stale copy held in memory

    assert copies(document) == {current_time(document)}
