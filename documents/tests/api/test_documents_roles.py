"""The role matrix: owner / editor / viewer / stranger against every endpoint."""

import pytest

from documents.models import Document, DocumentAccess

pytestmark = pytest.mark.django_db

OK, NOT_FOUND = "ok", 404
READ_ONLY, OWNER_ONLY = "read_only", "owner_only"


def _call(client, doc, action: str):
    base = f"/api/v1/documents/{doc.pk}/"
    match action:
        case "get":
            return client.get(base)
        case "patch":
            return client.patch(
                base, {"body": "changed"}, format="json", HTTP_IF_MATCH='"1"'
            )
        case "put":
            return client.put(
                base,
                {"title": "t", "body": "changed"},
                format="json",
                HTTP_IF_MATCH='"1"',
            )
        case "trash":
            return client.delete(base)
        case "revisions":
            return client.get(base + "revisions/")
        case "revision":
            return client.get(base + "revisions/1/")
        case "revision_restore":
            return client.post(base + "revisions/1/restore/")
        case "access_list":
            return client.get(base + "access/")
        case "access_create":
            return client.post(
                base + "access/",
                {"email": "new@example.com", "role": "viewer"},
                format="json",
            )
    raise AssertionError(action)


MATRIX = {
    # action: owner, editor, viewer, stranger
    "get": (OK, OK, OK, NOT_FOUND),
    "patch": (OK, OK, READ_ONLY, NOT_FOUND),
    "put": (OK, OK, READ_ONLY, NOT_FOUND),
    "trash": (OK, OWNER_ONLY, READ_ONLY, NOT_FOUND),
    "revisions": (OK, OK, OK, NOT_FOUND),
    "revision": (OK, OK, OK, NOT_FOUND),
    "revision_restore": (OK, OK, READ_ONLY, NOT_FOUND),
    "access_list": (OK, OK, OK, NOT_FOUND),
    "access_create": (OK, OWNER_ONLY, READ_ONLY, NOT_FOUND),
}
CASES = [
    (action, role, expected)
    for action, outcomes in MATRIX.items()
    for role, expected in zip(
        ("owner", "editor", "viewer", "stranger"), outcomes, strict=True
    )
]


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_document_endpoints_role_matrix(
    doc, as_role, client_for, action, role, expected
):
    """Each role gets what the matrix says; refusals change nothing."""
    before = (doc.title, doc.body, doc.version, doc.trashed_at)
    grants_before = DocumentAccess.objects.count()

    response = _call(client_for(as_role(role)), doc, action)

    if expected == OK:
        assert response.status_code in (200, 201, 204), response.content
        return
    if expected == NOT_FOUND:
        assert response.status_code == 404
        assert response.json() == {"detail": "Document not found.", "code": "not_found"}
    else:
        assert response.status_code == 403
        assert response.json()["code"] == expected
    doc.refresh_from_db()
    assert (doc.title, doc.body, doc.version, doc.trashed_at) == before
    assert DocumentAccess.objects.count() == grants_before


@pytest.mark.parametrize("role", ["editor", "viewer", "stranger"])
def test_document_permanent_delete_by_non_owner_is_refused(
    doc, as_role, owner, client_for, role
):
    """Only the owner erases; the trashed document is invisible to the others."""
    client_for(owner).delete(f"/api/v1/documents/{doc.pk}/")

    response = client_for(as_role(role)).delete(
        f"/api/v1/documents/{doc.pk}/?permanent=true"
    )

    assert response.status_code == 404
    assert Document.objects.filter(pk=doc.pk).exists()


def test_document_get_role_is_reported(doc, editor, client_for):
    """The caller's role is part of the document."""
    response = client_for(editor).get(f"/api/v1/documents/{doc.pk}/")

    assert response.json()["role"] == "editor"
