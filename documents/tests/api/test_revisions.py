from datetime import timedelta

import pytest

from documents.models import DocumentRevision

pytestmark = pytest.mark.django_db


def patch(client, doc, version: int, **fields):
    return client.patch(
        f"/api/v1/documents/{doc.pk}/",
        fields,
        format="json",
        HTTP_IF_MATCH=f'"{version}"',
    )


def numbers(doc) -> list[tuple[int, str]]:
    return list(
        DocumentRevision.objects.filter(document=doc)
        .order_by("number")
        .values_list("number", "body")
    )


def test_revision_autosaves_by_same_author_in_window_fold(doc, owner, client_for):
    """Saves by the author of the latest revision, inside the window, update it."""
    client = client_for(owner)
    patch(client, doc, 1, body="a")
    patch(client, doc, 2, body="ab")
    patch(client, doc, 3, body="abc")

    assert numbers(doc) == [(1, "abc")]


def test_revision_save_after_window_starts_new_revision(
    doc, owner, client_for, settings
):
    """Once the window since the revision began has passed, a save starts a new one."""
    settings.DOCUMENTS_AUTOSAVE_WINDOW_SECONDS = 60
    DocumentRevision.objects.filter(document=doc).update(
        created_at=doc.created_at - timedelta(seconds=61)
    )

    patch(client_for(owner), doc, 1, body="later")

    assert numbers(doc) == [(1, "First draft."), (2, "later")]


def test_revision_window_zero_keeps_every_save(doc, owner, client_for, settings):
    """With a window of 0 every save is its own revision."""
    settings.DOCUMENTS_AUTOSAVE_WINDOW_SECONDS = 0
    client = client_for(owner)
    patch(client, doc, 1, body="a")
    patch(client, doc, 2, body="ab")

    assert numbers(doc) == [(1, "First draft."), (2, "a"), (3, "ab")]


def test_revision_other_author_starts_new_revision(doc, owner, editor, client_for):
    """A save by another author never folds into someone else's revision."""
    patch(client_for(editor), doc, 1, body="editor")
    patch(client_for(owner), doc, 2, body="owner")
    patch(client_for(owner), doc, 3, body="owner again")

    revisions = list(
        DocumentRevision.objects.filter(document=doc)
        .order_by("number")
        .values_list("number", "author", "body")
    )
    assert revisions == [
        (1, owner.pk, "First draft."),
        (2, editor.pk, "editor"),
        (3, owner.pk, "owner again"),
    ]


def test_revision_restore_makes_new_revision_and_next_save_does_not_fold(
    doc, owner, client_for
):
    """A restore is its own revision; the next save does not rewrite it."""
    client = client_for(owner)
    client.post(f"/api/v1/documents/{doc.pk}/revisions/1/restore/")  # no-op content
    patch(client, doc, 2, body="after restore")

    revisions = list(
        DocumentRevision.objects.filter(document=doc)
        .order_by("number")
        .values_list("number", "body", "restored_from")
    )
    assert revisions == [
        (1, "First draft.", None),
        (2, "First draft.", 1),
        (3, "after restore", None),
    ]


def test_revision_restore_brings_back_old_content(doc, owner, editor, client_for):
    """Restoring revision 1 makes its content current as a new revision."""
    patch(client_for(editor), doc, 1, title="Edited", body="edited")

    response = client_for(owner).post(
        f"/api/v1/documents/{doc.pk}/revisions/1/restore/"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["body"], body["version"]) == (
        "Plan",
        "First draft.",
        3,
    )
    assert response["ETag"] == '"3"'
    assert numbers(doc)[-1] == (3, "First draft.")


def test_revision_restore_with_stale_if_match_returns_412(doc, owner, client_for):
    """A restore honours If-Match when given."""
    patch(client_for(owner), doc, 1, body="new")

    response = client_for(owner).post(
        f"/api/v1/documents/{doc.pk}/revisions/1/restore/", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    assert response.json()["current"]["body"] == "new"


def test_revision_list_is_newest_first_without_bodies(doc, owner, editor, client_for):
    """The list shows numbers, authors and sizes, newest first, no bodies."""
    patch(client_for(editor), doc, 1, body="héllo")

    response = client_for(owner).get(f"/api/v1/documents/{doc.pk}/revisions/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["number"] for r in results] == [2, 1]
    assert results[0]["author"]["id"] == str(editor.pk)
    assert results[0]["size_bytes"] == 6
    assert "body" not in results[0]
    assert response.json()["next_cursor"] is None


def test_revision_list_paginates_with_cursor(doc, owner, client_for, settings):
    """Revisions page with an opaque cursor."""
    settings.DOCUMENTS_AUTOSAVE_WINDOW_SECONDS = 0
    for version in range(1, 5):
        patch(client_for(owner), doc, version, body=f"v{version}")
    client = client_for(owner)

    first = client.get(f"/api/v1/documents/{doc.pk}/revisions/?page_size=3").json()
    second = client.get(
        f"/api/v1/documents/{doc.pk}/revisions/?page_size=3&cursor={first['next_cursor']}"
    ).json()

    assert [r["number"] for r in first["results"]] == [5, 4, 3]
    assert [r["number"] for r in second["results"]] == [2, 1]
    assert second["next_cursor"] is None


def test_revision_get_returns_body(doc, viewer, client_for):
    """Reading one revision includes its body."""
    response = client_for(viewer).get(f"/api/v1/documents/{doc.pk}/revisions/1/")

    assert response.status_code == 200
    assert response.json()["body"] == "First draft."
    assert response.json()["number"] == 1


def test_revision_get_unknown_number_returns_404(doc, owner, client_for):
    """An unknown revision number is a 404."""
    response = client_for(owner).get(f"/api/v1/documents/{doc.pk}/revisions/9/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Revision not found.", "code": "not_found"}


def test_revision_list_bad_cursor_returns_400(doc, owner, client_for):
    """A forged cursor is a 400 ``invalid_cursor``."""
    response = client_for(owner).get(
        f"/api/v1/documents/{doc.pk}/revisions/?cursor=!!!"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
