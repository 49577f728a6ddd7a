import pytest

from documents.models import Document

pytestmark = pytest.mark.django_db


def url(document) -> str:
    return f"/api/v1/documents/{document.pk}/"


def test_document_get_returns_etag_from_version(doc, owner, client_for):
    """GET carries the version as a strong ETag."""
    response = client_for(owner).get(url(doc))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["body"] == "First draft."


def test_document_patch_with_current_etag_updates_and_bumps_version(
    doc, owner, client_for
):
    """A PATCH with the current ETag writes and returns the next ETag."""
    response = client_for(owner).patch(
        url(doc), {"body": "Second draft."}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert response["ETag"] == '"2"'
    body = response.json()
    assert (body["title"], body["body"], body["version"]) == (
        "Plan",
        "Second draft.",
        2,
    )
    doc.refresh_from_db()
    assert (doc.body, doc.version) == ("Second draft.", 2)


def test_document_patch_without_if_match_returns_428(doc, owner, client_for):
    """Missing If-Match is a 428 ``precondition_required``; nothing changes."""
    response = client_for(owner).patch(url(doc), {"body": "x"}, format="json")

    assert response.status_code == 428
    assert response.json()["code"] == "precondition_required"
    doc.refresh_from_db()
    assert (doc.body, doc.version) == ("First draft.", 1)


def test_document_patch_with_stale_etag_returns_412_with_current(
    doc, owner, editor, client_for
):
    """A stale If-Match is a 412 carrying the current document and its ETag."""
    client_for(editor).patch(
        url(doc), {"body": "Editor wins."}, format="json", HTTP_IF_MATCH='"1"'
    )

    response = client_for(owner).patch(
        url(doc), {"body": "Owner loses."}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    body = response.json()
    assert body["code"] == "precondition_failed"
    assert body["current"]["body"] == "Editor wins."
    assert body["current"]["version"] == 2
    assert body["current"]["last_editor"]["id"] == str(editor.pk)
    assert response["ETag"] == '"2"'
    doc.refresh_from_db()
    assert doc.body == "Editor wins."


def test_document_patch_weak_etag_is_accepted(doc, owner, client_for):
    """A weak ETag (as a proxy may rewrite it) names the same version."""
    response = client_for(owner).patch(
        url(doc), {"title": "Renamed"}, format="json", HTTP_IF_MATCH='W/"1"'
    )

    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"


def test_document_patch_star_overwrites_current_version(doc, owner, client_for):
    """``If-Match: *`` writes over whatever version is current."""
    response = client_for(owner).patch(
        url(doc), {"title": "Forced"}, format="json", HTTP_IF_MATCH="*"
    )

    assert response.status_code == 200
    assert response.json()["version"] == 2


@pytest.mark.parametrize("header", ["1", '"abc"', '"1", "2"', "W/1"])
def test_document_patch_malformed_if_match_returns_400(doc, owner, client_for, header):
    """An If-Match that is not one ETag is a 400 ``invalid_if_match``."""
    response = client_for(owner).patch(
        url(doc), {"title": "x"}, format="json", HTTP_IF_MATCH=header
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_if_match"
    doc.refresh_from_db()
    assert doc.title == "Plan"


def test_document_put_replaces_title_and_body(doc, owner, client_for):
    """PUT sets both fields."""
    response = client_for(owner).put(
        url(doc),
        {"title": "New", "body": "All new."},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 200
    assert (response.json()["title"], response.json()["body"]) == ("New", "All new.")


def test_document_put_missing_field_returns_400(doc, owner, client_for):
    """PUT without the body is a 400 and changes nothing."""
    response = client_for(owner).put(
        url(doc), {"title": "New"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert "body" in response.json()["fields"]
    doc.refresh_from_db()
    assert doc.title == "Plan"


def test_document_patch_unknown_field_returns_400(doc, owner, client_for):
    """Unknown fields (even real model fields like ``version``) are refused."""
    response = client_for(owner).patch(
        url(doc), {"version": 99, "title": "x"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert response.json()["fields"] == {"version": ["Unknown field."]}
    doc.refresh_from_db()
    assert (doc.title, doc.version) == ("Plan", 1)


def test_document_patch_oversized_body_returns_413_unchanged(
    doc, owner, client_for, settings
):
    """An oversized body is refused with 413 and the document stays as it was."""
    settings.DOCUMENTS_MAX_BODY_BYTES = 20
    response = client_for(owner).patch(
        url(doc), {"body": "x" * 21}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    doc.refresh_from_db()
    assert (doc.body, doc.version) == ("First draft.", 1)


def test_document_patch_trashed_document_returns_404(doc, owner, client_for):
    """A trashed document cannot be edited: it is out of the normal views."""
    client_for(owner).delete(url(doc))

    response = client_for(owner).patch(
        url(doc), {"body": "x"}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "bad_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"]
)
def test_document_get_bad_or_unknown_id_returns_404(user, client_for, bad_id):
    """Invalid and unknown ids are both a JSON 404."""
    response = client_for(user).get(f"/api/v1/documents/{bad_id}/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Document not found.", "code": "not_found"}


def test_document_patch_same_content_leaves_no_new_revision(doc, owner, client_for):
    """Saving identical content bumps the version but adds no revision."""
    response = client_for(owner).patch(
        url(doc), {"body": "First draft."}, format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200
    assert Document.objects.get(pk=doc.pk).revisions.count() == 1
