"""Grants edited in the document admin go through the sharing services."""

from django.contrib.admin.models import CHANGE, LogEntry
from django.core import mail

import pytest

from accounts.tests.factories import UserFactory
from documents.models import DocumentAccess
from documents.tests.factories import DocumentAccessFactory, DocumentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/documents/document/"


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True, is_superuser=True, display_name="Sam Staff")


def _post_grants(client, document, *, new=(), changes=None, delete=()):
    """Post the change form as the page would, with grant edits applied."""
    url = f"{CHANGELIST}{document.pk}/change/"
    page = client.get(url)
    data: dict[str, str] = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[f"{formset.prefix}-{name}"] = str(management.initial.get(name, 0))
        if formset.model is not DocumentAccess:
            for index, form in enumerate(formset.initial_forms):
                data[f"{formset.prefix}-{index}-id"] = str(form.instance.pk)
                data[f"{formset.prefix}-{index}-document"] = str(document.pk)
            continue
        prefix = formset.prefix
        for index, form in enumerate(formset.initial_forms):
            access = form.instance
            data[f"{prefix}-{index}-id"] = str(access.pk)
            data[f"{prefix}-{index}-document"] = str(document.pk)
            data[f"{prefix}-{index}-role"] = (changes or {}).get(access.pk, access.role)
            if access.pk in delete:
                data[f"{prefix}-{index}-DELETE"] = "on"
        start = len(formset.initial_forms)
        for offset, (email, role) in enumerate(new):
            data[f"{prefix}-{start + offset}-email"] = email
            data[f"{prefix}-{start + offset}-role"] = role
            data[f"{prefix}-{start + offset}-document"] = str(document.pk)
        data[f"{prefix}-TOTAL_FORMS"] = str(start + len(new))
    data["_continue"] = "Save"
    return client.post(url, data)


def test_admin_grant_links_existing_user_and_normalises_email(
    staff_client, staff, django_capture_on_commit_callbacks
):
    """A new grant for a known address links its user, lower-cased, invited by staff."""
    document = DocumentFactory()
    invitee = UserFactory(email="ada@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post_grants(
            staff_client, document, new=[("  Ada@Example.COM ", "editor")]
        )
    assert response.status_code == 302, response.context and response.context.get(
        "errors"
    )
    access = DocumentAccess.objects.get(document=document)
    assert access.email == "ada@example.com"
    assert access.user == invitee
    assert access.invited_by == staff
    assert access.role == "editor"
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_admin_grant_to_unknown_address_sends_invitation(
    staff_client, django_capture_on_commit_callbacks
):
    """An address with no account becomes a pending invitation, emailed."""
    document = DocumentFactory()
    with django_capture_on_commit_callbacks(execute=True):
        _post_grants(staff_client, document, new=[("new@example.com", "viewer")])
    access = DocumentAccess.objects.get(document=document)
    assert access.user is None
    assert len(mail.outbox) == 1
    assert "Sam Staff" in mail.outbox[0].subject


def test_admin_grant_role_change_and_revoke(staff_client):
    """Changing a role updates the grant; ticking delete revokes it."""
    document = DocumentFactory()
    kept = DocumentAccessFactory(document=document, role="viewer")
    gone = DocumentAccessFactory(document=document, role="viewer")
    response = _post_grants(
        staff_client, document, changes={kept.pk: "editor"}, delete={gone.pk}
    )
    assert response.status_code == 302
    kept.refresh_from_db()
    assert kept.role == "editor"
    assert not DocumentAccess.objects.filter(pk=gone.pk).exists()


def test_admin_grant_to_owner_refused(staff_client):
    """The owner's own address is refused with a form error; nothing is saved."""
    document = DocumentFactory()
    response = _post_grants(
        staff_client, document, new=[(document.owner.email.upper(), "viewer")]
    )
    assert response.status_code == 200
    assert "The owner already has full access." in response.content.decode()
    assert not DocumentAccess.objects.exists()


def test_admin_grant_duplicate_address_refused(staff_client):
    """An address that already has a grant is refused, not duplicated."""
    document = DocumentFactory()
    DocumentAccessFactory(document=document, email="dup@example.com")
    response = _post_grants(staff_client, document, new=[("DUP@example.com", "viewer")])
    assert response.status_code == 200
    assert DocumentAccess.objects.filter(document=document).count() == 1


def test_admin_grant_changes_are_logged(staff_client, staff):
    """The admin log names the staff member and the grant added."""
    document = DocumentFactory()
    _post_grants(staff_client, document, new=[("log@example.com", "viewer")])
    entry = LogEntry.objects.get(action_flag=CHANGE, object_id=str(document.pk))
    assert entry.user_id == staff.pk
    assert "Added" in entry.get_change_message()


def test_admin_save_leaves_the_document_untouched(staff_client):
    """Saving the page changes no document field (content goes through the API)."""
    document = DocumentFactory()
    before = document.updated_at
    _post_grants(staff_client, document)
    document.refresh_from_db()
    assert document.updated_at == before


def test_admin_grant_id_of_another_document_is_refused(staff_client):
    """A posted grant id that is not this document's grant changes nothing."""
    document = DocumentFactory()
    mine = DocumentAccessFactory(document=document, role="viewer")
    theirs = DocumentAccessFactory(role="viewer")
    url = f"{CHANGELIST}{document.pk}/change/"
    data = {
        "accesses-TOTAL_FORMS": "1",
        "accesses-INITIAL_FORMS": "1",
        "accesses-0-id": str(theirs.pk),
        "accesses-0-document": str(document.pk),
        "accesses-0-role": "editor",
        "revisions-TOTAL_FORMS": "0",
        "revisions-INITIAL_FORMS": "0",
    }

    response = staff_client.post(url, data)

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.errors[0]["id"]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.role, theirs.role) == ("viewer", "viewer")
