"""Staff oversight of users: search, filters, sign out everywhere, deletion.

Every staff action goes through the same services as the API and is recorded
in Django's admin log (``LogEntry``: who, what, when; shown under *Recent
actions* and each object's *History*). The admin log is used rather than an
audit model of our own because Django writes it for every admin change and
deletion already, and the admin shows it; our own actions (sign out
everywhere, deleting an account) add entries through the documented
``log_change`` and ``log_deletions`` hooks.
"""

from collections import Counter

from django.contrib import admin, messages
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _

from accounts.exports import user_export_csv
from accounts.models import AccountTombstone, User
from accounts.selectors import user_deletion_summary
from accounts.services import user_delete, user_sign_out_everywhere
from project.adminexport import CsvExportAdmin
from project.exceptions import ApplicationError


def _summary_text(summary: dict[str, int]) -> str:
    return ", ".join(f"{count} {what}" for what, count in summary.items() if count)


@admin.register(User)
class UserAdmin(CsvExportAdmin):
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
    actions = ["sign_out_everywhere", "export_selected_csv"]
    csv_export = staticmethod(user_export_csv)

    def has_add_permission(self, request) -> bool:
        """Refuse: users are created by their first sign-in."""
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Allow with the delete permission, except oneself and (for others) superusers.

        Staff delete their own account with ``DELETE /api/v1/me``; only a
        superuser may delete a superuser.
        """
        if not super().has_delete_permission(request, obj):
            return False
        if obj is None:
            return True
        if obj.pk == request.user.pk:
            return False
        return request.user.is_superuser or not obj.is_superuser

    def get_deleted_objects(self, objs, request):
        """Describe what the account deletion service erases, with counts.

        Django's default would list every related row and ask for delete
        permissions on each model (documents, usage records) that the admin
        itself never deletes directly; the deletion is the service's, so the
        page shows what it erases: per account its stored rows and files and
        its Cognito user.
        """
        described, totals, refused = [], Counter(), set()
        for user in objs:
            if not self.has_delete_permission(request, user):
                refused.add(_("the account of %(who)s") % {"who": user})
                continue
            summary = user_deletion_summary(user=user)
            totals.update({_("accounts"): 1, **summary})
            cognito = (
                _("its Cognito user %(name)s")
                % {"name": user.cognito_username or user.sub}
                if user.sub
                else _("no Cognito user (never signed in)")
            )
            described.append(
                _("%(user)s: %(what)s; %(cognito)s")
                % {
                    "user": user,
                    "what": _summary_text(summary) or _("nothing stored"),
                    "cognito": cognito,
                }
            )
        return described, dict(totals), refused, []

    def delete_model(self, request, obj) -> None:
        """Run the account deletion service (rows, stored files, Cognito user)."""
        user_delete(user=obj, deleted_by=AccountTombstone.DeletedBy.STAFF)

    def delete_queryset(self, request, queryset) -> None:
        """Run the account deletion service for each selected account."""
        for user in list(queryset):
            user_delete(user=user, deleted_by=AccountTombstone.DeletedBy.STAFF)

    def log_deletions(self, request, queryset):
        """Record each deletion: who deleted which account, and what it held.

        The entry names the account by id and ``sub``, not by email: the
        account's personal data is erased; the log keeps what staff did.
        """
        content_type = ContentType.objects.get_for_model(User)
        return LogEntry.objects.bulk_create(
            [
                LogEntry(
                    user_id=request.user.pk,
                    content_type=content_type,
                    object_id=str(user.pk),
                    object_repr=f"account {user.pk} (sub {user.sub or '-'})",
                    action_flag=DELETION,
                    change_message=str(
                        _("Deleted the account and everything it held: %(what)s.")
                        % {
                            "what": _summary_text(user_deletion_summary(user=user))
                            or _("nothing stored")
                        }
                    ),
                )
                for user in queryset
            ]
        )

    @admin.action(description=_("Sign out everywhere (refuse current tokens)"))
    def sign_out_everywhere(self, request, queryset) -> None:
        """Record a sign-out cutoff for each selected user (and sign out of Cognito)."""
        done, failed = 0, 0
        for user in queryset:
            try:
                user_sign_out_everywhere(user=user)
                done += 1
            except ApplicationError:
                failed += 1  # the cutoff is recorded: tokens are refused here
            self.log_change(request, user, "Signed out everywhere.")
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
