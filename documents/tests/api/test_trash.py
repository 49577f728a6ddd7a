from datetime import timedelta
from io import StringIO

from django.core.management import CommandError, call_command
from django.utils import timezone

import pytest

from documents import hooks
from documents.models import Document, DocumentRevision
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def purged_ids():
    """Register a purge hook recording the ids it is given."""
    seen: list = []

    def hook(ids):
        seen.extend(ids)

    hooks.register_purge_hook(hook)
    yield seen
    hooks._purge_hooks.remove(hook)


def test_document_delete_moves_to_trash(doc, owner, client_for):
    """DELETE hides the document from lists but keeps it in the trash."""
    client = client_for(owner)

    response = client.delete(f"/api/v1/documents/{doc.pk}/")

    assert response.status_code == 204
    doc.refresh_from_db()
    assert doc.trashed_at is not None
    assert client.get("/api/v1/documents/").json()["results"] == []
    trash = client.get("/api/v1/documents/?scope=trash").json()["results"]
    assert [item["id"] for item in trash] == [str(doc.pk)]


def test_document_trashed_is_invisible_to_collaborators(doc, owner, editor, client_for):
    """Collaborators get a 404 for a trashed document and do not list it."""
    client_for(owner).delete(f"/api/v1/documents/{doc.pk}/")

    assert client_for(editor).get(f"/api/v1/documents/{doc.pk}/").status_code == 404
    assert client_for(editor).get("/api/v1/documents/").json()["results"] == []


def test_document_restore_brings_back_from_trash(doc, owner, client_for):
    """POST restore takes the document out of the trash."""
    client = client_for(owner)
    client.delete(f"/api/v1/documents/{doc.pk}/")

    response = client.post(f"/api/v1/documents/{doc.pk}/restore/")

    assert response.status_code == 200
    assert response.json()["trashed_at"] is None
    assert [d["id"] for d in client.get("/api/v1/documents/").json()["results"]] == [
        str(doc.pk)
    ]


def test_document_restore_not_trashed_returns_409(doc, owner, client_for):
    """Restoring a document that is not in the trash is a 409."""
    response = client_for(owner).post(f"/api/v1/documents/{doc.pk}/restore/")

    assert response.status_code == 409
    assert response.json()["code"] == "not_trashed"


def test_document_permanent_delete_requires_trash(doc, owner, client_for):
    """``?permanent=true`` on a live document is a 409; it stays."""
    response = client_for(owner).delete(f"/api/v1/documents/{doc.pk}/?permanent=true")

    assert response.status_code == 409
    assert response.json()["code"] == "not_trashed"
    assert Document.objects.filter(pk=doc.pk).exists()


def test_document_permanent_delete_erases_and_runs_hooks(
    doc, owner, client_for, purged_ids
):
    """A trashed document is erased with its revisions; purge hooks see its id."""
    client = client_for(owner)
    client.delete(f"/api/v1/documents/{doc.pk}/")

    response = client.delete(f"/api/v1/documents/{doc.pk}/?permanent=true")

    assert response.status_code == 204
    assert not Document.objects.filter(pk=doc.pk).exists()
    assert not DocumentRevision.objects.filter(document_id=doc.pk).exists()
    assert purged_ids == [doc.pk]


def test_document_delete_bad_permanent_flag_returns_400(doc, owner, client_for):
    """A non-boolean ``permanent`` is a 400 and nothing moves."""
    response = client_for(owner).delete(f"/api/v1/documents/{doc.pk}/?permanent=maybe")

    assert response.status_code == 400
    doc.refresh_from_db()
    assert doc.trashed_at is None


def _trashed(days_ago: int):
    document = DocumentFactory()
    Document.objects.filter(pk=document.pk).update(
        trashed_at=timezone.now() - timedelta(days=days_ago)
    )
    return document


def test_purge_trash_erases_only_old_trash_and_runs_hooks(purged_ids):
    """purge_trash --older-than 30d erases trash older than 30 days only."""
    old, recent, live = _trashed(31), _trashed(5), DocumentFactory()
    out, err = StringIO(), StringIO()

    call_command("purge_trash", "--older-than", "30d", stdout=out, stderr=err)

    assert set(Document.objects.values_list("pk", flat=True)) == {recent.pk, live.pk}
    assert purged_ids == [old.pk]
    assert "Purged 1 document(s)." in out.getvalue()
    assert "purging" in err.getvalue()  # the progress bar


def test_purge_trash_dry_run_changes_nothing(purged_ids):
    """--dry-run only counts."""
    _trashed(40)
    out = StringIO()

    call_command("purge_trash", "--older-than", "30d", "--dry-run", stdout=out)

    assert Document.objects.count() == 1
    assert purged_ids == []
    assert "1 document(s)" in out.getvalue()


def test_purge_trash_works_in_batches(purged_ids):
    """Batches are purged until nothing old is left."""
    for _ in range(5):
        _trashed(60)

    call_command(
        "purge_trash",
        "--older-than",
        "1h",
        "--batch-size",
        "2",
        stdout=StringIO(),
        stderr=StringIO(),
    )

    assert Document.objects.count() == 0
    assert len(purged_ids) == 5


def test_purge_trash_bad_age_is_an_error():
    """An unreadable --older-than stops the command."""
    with pytest.raises(CommandError):
        call_command("purge_trash", "--older-than", "soon")
