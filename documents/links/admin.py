"""Staff oversight of share links: every live link, and revocation.

The list never shows a secret (only its hash is stored, and that is not
shown either). Revoking calls ``share_links_revoke``, as the API does.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from documents.links import services
from documents.links.selectors import live_links_q
from documents.models import ShareLink
from project.adminlinks import linked


class LiveFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("live", _("Live")),
            ("dead", _("Revoked or expired")),
            ("all", _("All")),
        ]

    def choices(self, changelist):
        """Offer the lookups without Django's "All" (live is the default)."""
        for lookup, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "live") == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}
                ),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "live"
        if value == "live":
            return queryset.filter(live_links_q())
        if value == "dead":
            return queryset.exclude(live_links_q())
        return queryset


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = [
        linked("document", description=_("document"), ordering="document__title"),
        "role",
        "audience",
        linked("created_by", description=_("created by"), ordering="created_by__email"),
        "created_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = [LiveFilter, "role", "audience"]
    list_select_related = ["document", "created_by"]
    search_fields = ["document__title", "created_by__email"]
    fields = [
        "document",
        "created_by",
        "role",
        "audience",
        "created_at",
        "expires_at",
        "revoked_at",
    ]
    readonly_fields = fields
    ordering = ["-created_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # links are made by owners, with a secret shown once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row stays for the record

    @admin.action(description=_("Revoke selected links"))
    def revoke(self, request, queryset) -> None:
        count = services.share_links_revoke(
            link_ids=queryset.values_list("pk", flat=True)
        )
        self.message_user(
            request,
            _("%(count)d link(s) revoked.") % {"count": count},
            messages.SUCCESS,
        )
