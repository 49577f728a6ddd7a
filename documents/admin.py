"""Admin for content oversight: read-only content, grants, history, trash actions."""

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from documents import services
from documents.models import Document, DocumentAccess, DocumentRevision


class TrashedFilter(admin.SimpleListFilter):
    title = _("in trash")
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(trashed_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(trashed_at__isnull=True)
        return queryset


class SharedFilter(admin.SimpleListFilter):
    title = _("shared")
    parameter_name = "shared"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        shared = Exists(DocumentAccess.objects.filter(document=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(shared)
        if self.value() == "no":
            return queryset.exclude(shared)
        return queryset


class DocumentAccessInline(admin.TabularInline):
    model = DocumentAccess
    fk_name = "document"
    extra = 0
    fields = ["email", "user", "role", "invited_by", "created_at"]
    readonly_fields = ["user", "invited_by", "created_at"]


class DocumentRevisionInline(admin.TabularInline):
    model = DocumentRevision
    extra = 0
    fields = [
        "number",
        "title",
        "author",
        "size_bytes",
        "restored_from",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author").defer("body")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "owner",
        "version",
        "grant_count",
        "updated_at",
        "trashed_at",
    ]
    list_select_related = ["owner"]
    list_filter = [TrashedFilter, SharedFilter, "updated_at"]
    search_fields = ["title", "owner__email"]
    date_hierarchy = "updated_at"
    # Content changes go through the API (revisions, If-Match), never here.
    readonly_fields = [
        "owner",
        "title",
        "body",
        "version",
        "last_editor",
        "created_at",
        "updated_at",
        "trashed_at",
    ]
    fields = readonly_fields
    inlines = [DocumentAccessInline, DocumentRevisionInline]
    actions = ["restore_from_trash", "purge"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .defer("body")
            .annotate(grant_count=Count("accesses"))
        )

    @admin.display(description=_("grants"), ordering="grant_count")
    def grant_count(self, obj) -> int:
        return obj.grant_count

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting must run the purge hooks: use the "purge" action.
        return False

    @admin.action(description=_("Restore selected documents from the trash"))
    def restore_from_trash(self, request, queryset) -> None:
        restored = 0
        for document in queryset.filter(trashed_at__isnull=False):
            services.document_restore(document=document)
            restored += 1
        self.message_user(request, _("%d document(s) restored.") % restored)

    @admin.action(description=_("Purge selected trashed documents permanently"))
    def purge(self, request, queryset) -> None:
        ids = list(
            queryset.filter(trashed_at__isnull=False).values_list("pk", flat=True)
        )
        count = services.documents_purge(document_ids=ids)
        self.message_user(
            request,
            _("%d trashed document(s) purged; documents not in the trash are kept.")
            % count,
            level=messages.WARNING,
        )
