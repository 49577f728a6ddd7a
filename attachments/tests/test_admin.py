"""The attachments admin: list, staff-only download, storage used per user."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

import pytest

from accounts.tests.factories import UserFactory
from attachments.adapters.storage import attachment_storage
from attachments.admin import user_admin_extend
from attachments.models import Attachment, StorageDeletion
from attachments.tests.factories import PNG_BYTES, AttachmentFactory

pytestmark = pytest.mark.django_db


def test_admin_attachment_list_shows_attachments(staff_client):
    """Staff see attachments with their size and status."""
    AttachmentFactory(filename="holiday.png", size_bytes=2048)
    response = staff_client.get("/admin/attachments/attachment/?status__exact=ready")
    assert response.status_code == 200
    assert b"holiday.png" in response.content
    assert b"2.0\xc2\xa0KB" in response.content


def test_admin_download_staff_gets_file(staff_client):
    """The admin download streams a ready file to staff."""
    attachment = AttachmentFactory()
    attachment_storage().put(
        key=attachment.storage_key, data=PNG_BYTES, content_type=""
    )
    response = staff_client.get(
        f"/admin/attachments/attachment/{attachment.pk}/download/"
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG_BYTES
    assert response["Content-Disposition"].startswith("attachment;")


def test_admin_download_non_staff_redirected_to_login():
    """A signed-in non-staff user cannot use the admin download."""
    attachment = AttachmentFactory()
    client = Client()
    client.force_login(UserFactory())
    response = client.get(f"/admin/attachments/attachment/{attachment.pk}/download/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_delete_owes_storage_deletion(
    staff_client, django_capture_on_commit_callbacks
):
    """Deleting in the admin deletes the stored file after the commit."""
    attachment = AttachmentFactory()
    attachment_storage().put(
        key=attachment.storage_key, data=PNG_BYTES, content_type=""
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/admin/attachments/attachment/{attachment.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert not StorageDeletion.objects.exists()
    assert attachment_storage().size(key=attachment.storage_key) is None


def test_user_admin_extend_shows_storage_used():
    """The user admin gains a read-only 'storage used' field counting ready+pending."""
    site = admin.AdminSite()

    class UserAdmin(admin.ModelAdmin):
        fieldsets = [(None, {"fields": ["email"]})]

    site.register(get_user_model(), UserAdmin)
    user_admin_extend(site)
    user = UserFactory()
    AttachmentFactory(uploaded_by=user, size_bytes=1024)
    AttachmentFactory(
        uploaded_by=user, size_bytes=1024, status=Attachment.Status.PENDING
    )
    AttachmentFactory(
        uploaded_by=user, size_bytes=9999, status=Attachment.Status.REJECTED
    )
    model_admin = site.get_model_admin(get_user_model())
    request = RequestFactory().get("/")
    assert "attachment_storage_used" in model_admin.get_readonly_fields(request, user)
    assert model_admin.get_fieldsets(request, user)[-1][1]["fields"] == (
        "attachment_storage_used",
        "attachment_links",
    )
    assert model_admin.attachment_storage_used(user) == "2.0\xa0KB"


def test_user_admin_extend_without_user_admin_changes_nothing():
    """On a site where no one registered the user model, nothing is added."""
    site = admin.AdminSite()

    user_admin_extend(site)

    assert not site.is_registered(get_user_model())


def test_user_admin_change_page_shows_storage_used(staff_client):
    """The real user admin page shows the user's attachment storage."""
    if not admin.site.is_registered(get_user_model()):
        pytest.skip("accounts has no user admin")
    user = UserFactory()
    AttachmentFactory(uploaded_by=user, size_bytes=3 * 1024 * 1024)
    response = staff_client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b"Attachment storage used" in response.content
    assert b"3.0\xc2\xa0MB" in response.content
