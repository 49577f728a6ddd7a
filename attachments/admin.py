"""Admin: attachment oversight, a staff-only download, storage used per user."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from attachments.models import Attachment, StorageDeletion
from attachments.selectors import attachment_storage_used_bytes
from attachments.services import storage_delete_later
from attachments.views import attachment_download_response


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        "document",
        "uploaded_by",
        "size",
        "content_type",
        "status",
        "created_at",
        "download_link",
    ]
    list_filter = ["status", "content_type", "created_at"]
    search_fields = ["filename", "=id", "uploaded_by__email", "=storage_key"]
    list_select_related = ["document", "uploaded_by"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    readonly_fields = [
        "id",
        "document",
        "uploaded_by",
        "filename",
        "content_type",
        "size_bytes",
        "status",
        "rejection_code",
        "storage_key",
        "storage_version",
        "checksum_sha256",
        "created_at",
        "completed_at",
        "download_link",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("size"), ordering="size_bytes")
    def size(self, obj: Attachment) -> str:
        return filesizeformat(obj.size_bytes)

    @admin.display(description=_("download"))
    def download_link(self, obj: Attachment) -> str:
        if obj.status != Attachment.Status.READY:
            return "-"
        url = reverse("admin:attachments_attachment_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Download"))

    def get_urls(self):
        download = path(
            "<uuid:attachment_id>/download/",
            self.admin_site.admin_view(self.download_view),
            name="attachments_attachment_download",
        )
        return [download, *super().get_urls()]

    def download_view(self, request, attachment_id):
        """Serve the file to staff who may view attachments."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        attachment = get_object_or_404(
            Attachment, pk=attachment_id, status=Attachment.Status.READY
        )
        return attachment_download_response(attachment)

    def delete_model(self, request, obj: Attachment) -> None:
        with transaction.atomic():
            obj.delete()
            storage_delete_later(keys=[obj.storage_key])

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            keys = list(queryset.values_list("storage_key", flat=True))
            queryset.delete()
            storage_delete_later(keys=keys)


@admin.register(StorageDeletion)
class StorageDeletionAdmin(admin.ModelAdmin):
    list_display = ["storage_key", "attempts", "last_error", "created_at"]
    readonly_fields = ["storage_key", "attempts", "last_error", "created_at"]
    search_fields = ["=storage_key"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.display(description=_("Attachment storage used"))
def attachment_storage_used(user) -> str:
    """Return the user's ready plus pending bytes, human-readable."""
    if user is None or user.pk is None:
        return "-"
    return filesizeformat(attachment_storage_used_bytes(user=user))


def user_admin_extend(site: admin.AdminSite) -> None:
    """Show storage used on the user admin, whoever registered it.

    ``accounts`` owns the user admin; this adds one read-only field to it
    (accounts comes first in INSTALLED_APPS, so its admin is registered).
    """
    if not site.is_registered(get_user_model()):
        return
    user_admin = site.get_model_admin(get_user_model())
    if hasattr(user_admin, "attachment_storage_used"):
        return
    user_admin.attachment_storage_used = attachment_storage_used
    user_admin.readonly_fields = (
        *user_admin.readonly_fields,
        "attachment_storage_used",
    )
    if user_admin.fieldsets:
        user_admin.fieldsets = (
            *user_admin.fieldsets,
            (_("Attachments"), {"fields": ("attachment_storage_used",)}),
        )
    elif user_admin.fields:
        user_admin.fields = (*user_admin.fields, "attachment_storage_used")


user_admin_extend(admin.site)
