import pytest

from accounts import registry
from accounts.tests.factories import UserFactory
from documents import hooks
from documents.models import Document, DocumentAccess, DocumentRevision
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db


def contributor():
    return next(c for c in registry.contributors() if c.name == "documents")


def test_account_delete_removes_owned_documents_and_grants():
    """Owned documents (with revisions) and grants on others' documents go."""
    user = UserFactory()
    mine = DocumentFactory(owner=user)
    theirs = DocumentFactory()
    DocumentAccessFactory(document=theirs, user=user)
    seen: list = []
    hooks.register_purge_hook(seen.extend)
    try:
        contributor().delete(user)
    finally:
        hooks._purge_hooks.remove(seen.extend)

    assert not Document.objects.filter(pk=mine.pk).exists()
    assert not DocumentRevision.objects.filter(document_id=mine.pk).exists()
    assert Document.objects.filter(pk=theirs.pk).exists()
    assert not DocumentAccess.objects.filter(user=user).exists()
    assert seen == [mine.pk]


def test_account_export_contains_documents_revisions_and_shares():
    """The export holds owned documents with revisions and what was shared."""
    user = UserFactory()
    mine = DocumentFactory(owner=user, title="Mine", body="body")
    theirs = DocumentFactory(title="Theirs")
    DocumentAccessFactory(document=theirs, user=user, role="editor")

    data = contributor().export(user)

    assert [d["title"] for d in data["owned"]] == ["Mine"]
    assert data["owned"][0]["id"] == str(mine.pk)
    assert data["owned"][0]["revisions"][0]["body"] == "body"
    assert data["shared_with_me"] == [
        {"document_id": str(theirs.pk), "title": "Theirs", "role": "editor"}
    ]


def test_account_delete_through_api_removes_documents(user, client_for):
    """DELETE /me erases the caller's documents."""
    DocumentFactory(owner=user)

    response = client_for(user).delete("/api/v1/me")

    assert response.status_code in (200, 202, 204)
    assert not Document.objects.exists()
