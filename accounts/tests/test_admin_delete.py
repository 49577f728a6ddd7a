"""Deleting users in the admin runs the account deletion service, logged."""

from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.utils import timezone

import pytest

from accounts.models import AccountTombstone, User
from accounts.tests.factories import UserFactory
from aiproxy.tests.factories import UserQuotaFactory
from attachments.adapters.storage import attachment_storage
from attachments.models import Attachment
from attachments.tests.factories import PNG_BYTES, AttachmentFactory
from documents.models import Document, DocumentRevision
from documents.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True, email="boss@example.com")


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def owner():
    """A user with two documents, a stored file and an AI quota override."""
    user = UserFactory(email="owner@example.com", cognito_username="owner-name")
    document = DocumentFactory(owner=user)
    DocumentFactory(owner=user)
    attachment = AttachmentFactory(document=document)
    attachment_storage().put(
        key=attachment.storage_key, data=PNG_BYTES, content_type="image/png"
    )
    UserQuotaFactory(user=user)
    return user


def test_user_admin_delete_page_says_what_is_erased(staff_client, owner):
    """The confirmation page counts the documents, files and the Cognito user."""
    response = staff_client.get(f"{CHANGELIST}{owner.pk}/delete/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Cannot delete" not in text
    assert "2 documents (trash included)" in text
    assert "1 stored files" in text
    assert "its Cognito user owner-name" in text


def test_user_admin_delete_runs_account_deletion(
    staff_client, owner, superuser, django_capture_on_commit_callbacks
):
    """Confirming erases the account, its documents and files, and logs who did it."""
    key = Attachment.objects.get().storage_key
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(f"{CHANGELIST}{owner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=owner.pk).exists()
    assert not Document.objects.exists()
    assert not DocumentRevision.objects.exists()
    assert attachment_storage().size(key=key) is None
    tombstone = AccountTombstone.objects.get()
    assert (tombstone.sub, tombstone.deleted_by) == (owner.sub, "staff")
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.user_id == superuser.pk
    assert entry.object_id == str(owner.pk)
    assert "owner@example.com" not in entry.object_repr
    assert "2 documents" in entry.change_message


def test_user_admin_bulk_delete_confirms_then_runs_service(staff_client, owner):
    """The bulk action shows the totals first, then deletes every account."""
    other = UserFactory()
    DocumentFactory(owner=other)
    selected = [str(owner.pk), str(other.pk)]
    page = staff_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": selected}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cannot delete" not in text
    assert "Documents (trash included): 3" in text
    assert "Accounts: 2" in text
    done = staff_client.post(
        CHANGELIST,
        {"action": "delete_selected", "_selected_action": selected, "post": "yes"},
    )
    assert done.status_code == 302
    assert not User.objects.filter(pk__in=selected).exists()
    assert AccountTombstone.objects.count() == 2
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 2


def test_user_admin_cannot_delete_own_account(staff_client, superuser):
    """Staff delete their own account through the API, not the admin."""
    response = staff_client.post(f"{CHANGELIST}{superuser.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=superuser.pk).exists()


def test_user_admin_staff_cannot_delete_a_superuser(client):
    """Only a superuser may delete a superuser."""
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "delete_user"])
    )
    target = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.post(f"{CHANGELIST}{target.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=target.pk).exists()


def test_user_admin_sign_out_action_is_logged(staff_client, superuser):
    """Sign out everywhere leaves an admin log entry naming the staff member."""
    target = UserFactory()
    staff_client.post(
        CHANGELIST,
        {"action": "sign_out_everywhere", "_selected_action": [str(target.pk)]},
    )
    entry = LogEntry.objects.get(action_flag=CHANGE)
    assert (entry.user_id, entry.object_id) == (superuser.pk, str(target.pk))
    assert entry.change_message == "Signed out everywhere."


def test_tombstone_admin_lists_deleted_accounts_read_only(staff_client):
    """Staff see tombstones; nobody adds, edits or deletes one in the admin."""
    tombstone = AccountTombstone.objects.create(
        sub="gone-sub", deleted_at=timezone.now(), deleted_by="user"
    )
    listing = staff_client.get("/admin/accounts/accounttombstone/")
    assert listing.status_code == 200
    assert b"gone-sub" in listing.content
    url = f"/admin/accounts/accounttombstone/{tombstone.pk}/change/"
    page = staff_client.get(url)
    assert page.status_code == 200
    assert b'name="sub"' not in page.content  # shown, not editable
    assert staff_client.post(url, {"sub": "edited"}).status_code == 403
    assert staff_client.get("/admin/accounts/accounttombstone/add/").status_code == 403
    delete = f"/admin/accounts/accounttombstone/{tombstone.pk}/delete/"
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    tombstone.refresh_from_db()
    assert tombstone.sub == "gone-sub"
