"""Staff oversight of users: search, filters, sign out everywhere."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from accounts.models import AccountTombstone, User
from accounts.services import user_sign_out_everywhere
from project.exceptions import ApplicationError


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = [
        "email",
        "display_name",
        "sub",
        "is_staff",
        "is_active",
        "last_seen_at",
        "created_at",
    ]
    list_filter = ["is_staff", "is_active", "is_superuser"]
    search_fields = ["email", "sub", "display_name", "cognito_username"]
    ordering = ["-created_at"]
    list_select_related = False  # no foreign keys to follow
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = [
        "id",
        "sub",
        "cognito_username",
        "email",
        "is_email_verified",
        "last_seen_at",
        "last_login",
        "tokens_valid_after",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["id", "email", "is_email_verified", "display_name"]}),
        (_("Identity"), {"fields": ["sub", "cognito_username"]}),
        (
            _("Access"),
            {
                "fields": [
                    "is_active",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "tokens_valid_after",
                ]
            },
        ),
        (
            _("Activity"),
            {"fields": ["last_seen_at", "last_login", "created_at", "updated_at"]},
        ),
    ]
    filter_horizontal = ["groups"]
    actions = ["sign_out_everywhere"]

    def has_add_permission(self, request) -> bool:
        """Refuse: users are created by their first sign-in."""
        return False

    @admin.action(description=_("Sign out everywhere (refuse current tokens)"))
    def sign_out_everywhere(self, request, queryset) -> None:
        """Record a sign-out cutoff for each selected user (and sign out of Cognito)."""
        done, failed = 0, 0
        for user in queryset:
            try:
                user_sign_out_everywhere(user=user)
                done += 1
            except ApplicationError:
                failed += 1
        self.message_user(
            request, _("Signed out %(n)s user(s).") % {"n": done}, messages.SUCCESS
        )
        if failed:
            self.message_user(
                request,
                _(
                    "Cognito could not be reached for %(n)s user(s); tokens are "
                    "refused here, retry to revoke their Cognito sessions."
                )
                % {"n": failed},
                messages.WARNING,
            )


@admin.register(AccountTombstone)
class AccountTombstoneAdmin(admin.ModelAdmin):
    """Deleted accounts, read-only: what refuses their old tokens, and Cognito's part."""

    list_display = ["sub", "deleted_at", "deleted_by", "cognito_deleted_at"]
    list_filter = ["deleted_by", ("cognito_deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["sub"]
    date_hierarchy = "deleted_at"
    ordering = ["-deleted_at"]
    show_full_result_count = False
    fields = [
        "sub",
        "deleted_at",
        "deleted_by",
        "cognito_username",
        "cognito_deleted_at",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        """Refuse: tombstones are written by the account deletion service."""
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Refuse: a tombstone is a record, never edited."""
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Refuse: ``purge_account_tombstones`` erases them after the retention."""
        return False
