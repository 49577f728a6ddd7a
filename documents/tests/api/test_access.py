from django.core import mail

import pytest

from accounts import registry
from accounts.tests.factories import UserFactory
from documents.models import DocumentAccess
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db


def url(doc, access=None) -> str:
    base = f"/api/v1/documents/{doc.pk}/access/"
    return f"{base}{access.pk}/" if access else base


def test_access_grant_to_verified_user_gives_access_at_once(
    doc, owner, client_for, django_capture_on_commit_callbacks
):
    """Sharing with a verified account's email is active immediately; a mail goes out."""
    friend = UserFactory(email="Friend@Example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            url(doc), {"email": "friend@example.COM", "role": "editor"}, format="json"
        )

    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["role"], body["status"]) == (
        "friend@example.com",
        "editor",
        "active",
    )
    assert body["user"]["id"] == str(friend.pk)
    assert body["invited_by"]["id"] == str(owner.pk)
    assert client_for(friend).get(f"/api/v1/documents/{doc.pk}/").status_code == 200
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["friend@example.com"]
    assert "Plan" in mail.outbox[0].subject


def test_access_grant_to_unknown_email_is_pending_invitation(
    doc, owner, client_for, django_capture_on_commit_callbacks
):
    """An email without an account becomes a pending invitation, and is mailed."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            url(doc), {"email": "new@example.com", "role": "viewer"}, format="json"
        )

    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    assert response.json()["user"] is None
    assert mail.outbox[0].to == ["new@example.com"]


def test_access_grant_to_unverified_account_stays_pending(doc, owner, client_for):
    """An account whose email is not verified does not get the grant."""
    unverified = UserFactory(email="u@example.com", is_email_verified=False)

    response = client_for(owner).post(
        url(doc), {"email": "u@example.com", "role": "viewer"}, format="json"
    )

    assert response.json()["status"] == "pending"
    assert client_for(unverified).get(f"/api/v1/documents/{doc.pk}/").status_code == 404


def test_access_invitation_claimed_when_verified_email_hook_runs(
    doc, owner, client_for
):
    """The verified-email hook turns a pending invitation into access."""
    client_for(owner).post(
        url(doc), {"email": "later@example.com", "role": "editor"}, format="json"
    )
    newcomer = UserFactory(email="Later@example.com", is_email_verified=True)

    registry.run_verified_email_hooks(newcomer)

    access = DocumentAccess.objects.get(document=doc, email="later@example.com")
    assert access.user == newcomer
    response = client_for(newcomer).get(f"/api/v1/documents/{doc.pk}/")
    assert response.status_code == 200
    assert response.json()["role"] == "editor"


def test_access_invitation_not_claimed_with_unverified_email(doc, owner, client_for):
    """An unverified email claims nothing."""
    client_for(owner).post(
        url(doc), {"email": "later@example.com", "role": "editor"}, format="json"
    )
    impostor = UserFactory(email="later@example.com", is_email_verified=False)

    registry.run_verified_email_hooks(impostor)

    assert DocumentAccess.objects.get(email="later@example.com").user is None
    assert client_for(impostor).get(f"/api/v1/documents/{doc.pk}/").status_code == 404


def test_access_invitation_sign_in_with_real_token_claims_it(
    doc, owner, client_for, bearer_client
):
    """Signing in for the first time with a verified email claims the invitation."""
    client_for(owner).post(
        url(doc), {"email": "fresh@example.com", "role": "viewer"}, format="json"
    )
    fresh = UserFactory(email="fresh@example.com", is_email_verified=True)
    registry.run_verified_email_hooks(fresh)

    response = bearer_client(fresh).get(f"/api/v1/documents/{doc.pk}/")

    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


def test_access_grant_existing_email_changes_role(doc, owner, viewer, client_for):
    """Granting again to the same email updates the role (200, no duplicate)."""
    response = client_for(owner).post(
        url(doc), {"email": viewer.email.upper(), "role": "editor"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "editor"
    assert DocumentAccess.objects.filter(document=doc).count() == 1


def test_access_grant_to_owner_returns_409(doc, owner, client_for):
    """The owner cannot be granted (and so never demoted) on their own document."""
    response = client_for(owner).post(
        url(doc), {"email": owner.email, "role": "viewer"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "is_owner"
    assert not DocumentAccess.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "not-an-email", "role": "viewer"},
        {"email": "a@example.com", "role": "owner"},
        {"email": "a@example.com"},
        {"email": 5, "role": "viewer"},
        {"email": "a@example.com", "role": "viewer", "user": "x"},
    ],
)
def test_access_grant_bad_input_returns_400(doc, owner, client_for, payload):
    """Bad emails, roles, missing or unknown fields are 400s; nothing is shared."""
    response = client_for(owner).post(url(doc), payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not DocumentAccess.objects.exists()


def test_access_list_shows_owner_and_grants(doc, owner, editor, viewer, client_for):
    """Anyone with access sees who else has it."""
    response = client_for(viewer).get(url(doc))

    assert response.status_code == 200
    assert response.json()["owner"]["id"] == str(owner.pk)
    assert {(a["user"]["id"], a["role"]) for a in response.json()["results"]} == {
        (str(editor.pk), "editor"),
        (str(viewer.pk), "viewer"),
    }


def test_access_update_role_by_owner(doc, owner, viewer, client_for):
    """The owner changes a grant's role."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(owner).patch(
        url(doc, access), {"role": "editor"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["role"] == "editor"


def test_access_update_without_fields_changes_nothing(doc, owner, viewer, client_for):
    """PATCH is partial, as the schema says: ``{}`` answers the unchanged grant."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(owner).patch(url(doc, access), {}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "viewer"
    access.refresh_from_db()
    assert access.role == "viewer"


@pytest.mark.parametrize(
    ("role", "code"), [("editor", "owner_only"), ("viewer", "read_only")]
)
def test_access_update_by_non_owner_returns_403(
    doc, as_role, viewer, client_for, role, code
):
    """Editors and viewers cannot change grants."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(as_role(role)).patch(
        url(doc, access), {"role": "editor"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == code
    access.refresh_from_db()
    assert access.role == "viewer"


def test_access_revoke_by_owner_removes_access(doc, owner, viewer, client_for):
    """Revoking a grant removes the access."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(owner).delete(url(doc, access))

    assert response.status_code == 204
    assert client_for(viewer).get(f"/api/v1/documents/{doc.pk}/").status_code == 404


def test_access_revoke_own_grant_leaves_document(doc, viewer, client_for):
    """A collaborator may leave a document."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(viewer).delete(url(doc, access))

    assert response.status_code == 204
    assert not DocumentAccess.objects.filter(pk=access.pk).exists()


def test_access_revoke_others_grant_by_editor_returns_403(
    doc, editor, viewer, client_for
):
    """An editor cannot remove someone else's access."""
    access = DocumentAccess.objects.get(user=viewer)

    response = client_for(editor).delete(url(doc, access))

    assert response.status_code == 403
    assert response.json()["code"] == "owner_only"
    assert DocumentAccess.objects.filter(pk=access.pk).exists()


def test_access_of_other_document_returns_404(doc, owner, client_for):
    """A grant id from another document is a 404."""
    foreign = DocumentAccessFactory(document=DocumentFactory())

    response = client_for(owner).delete(url(doc, foreign))

    assert response.status_code == 404
    assert DocumentAccess.objects.filter(pk=foreign.pk).exists()


def test_access_bad_grant_id_returns_404(doc, owner, client_for):
    """A malformed grant id is a JSON 404."""
    response = client_for(owner).delete(f"/api/v1/documents/{doc.pk}/access/nope/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_access_grant_created_answers_location_of_the_grant(doc, owner, client_for):
    """A new grant's 201 names its URL in Location; a repeat (200) has none."""
    UserFactory(email="loc@example.com")
    first = client_for(owner).post(
        url(doc), {"email": "loc@example.com", "role": "viewer"}, format="json"
    )
    again = client_for(owner).post(
        url(doc), {"email": "loc@example.com", "role": "viewer"}, format="json"
    )

    assert first.status_code == 201
    assert first["Location"] == (
        f"http://testserver/api/v1/documents/{doc.pk}/access/{first.json()['id']}/"
    )
    assert again.status_code == 200
    assert "Location" not in again
