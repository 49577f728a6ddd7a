"""Admin: attachment oversight, a staff-only download, storage used per user."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from attachments.housekeeping import storage_delete_later
from attachments.models import Attachment, StorageDeletion
from attachments.selectors import attachment_storage_used_bytes
from attachments.views import attachment_download_response
from project.adminlinks import linked, list_link, user_admin_add_field


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = [
        "filename",
        linked("document", description=_("document"), ordering="document__title"),
        linked(
            "uploaded_by", description=_("uploaded by"), ordering="uploaded_by__email"
        ),
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


@admin.display(description=_("Their attachments"))
def attachment_links(user) -> str:
    """Link to the files the user uploaded, with their count."""
    if user is None or user.pk is None:
        return "-"
    count = Attachment.objects.filter(uploaded_by=user).count()
    return list_link(
        Attachment,
        ngettext("%(n)s attachment", "%(n)s attachments", count) % {"n": count},
        uploaded_by=user.pk,
    )


def user_admin_extend(site: admin.AdminSite) -> None:
    """Show storage used and a link to the user's attachments on the user admin."""
    for name, display in [
        ("attachment_storage_used", attachment_storage_used),
        ("attachment_links", attachment_links),
    ]:
        user_admin_add_field(
            name=name, display=display, section=_("Attachments"), site=site
        )


user_admin_extend(admin.site)
