"""Admin: the model catalogue, the usage ledger (read-only) and quota overrides."""

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Count, F, QuerySet, Sum
from django.http import HttpRequest, HttpResponse

from aiproxy.models import AIModel, UsageRecord, UserQuota


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "provider",
        "upstream_model",
        "is_enabled",
        "context_limit",
        "max_output_tokens",
        "input_price",
        "output_price",
    ]
    list_editable = ["is_enabled"]
    list_filter = ["provider", "is_enabled"]
    search_fields = ["name", "upstream_model"]
    ordering = ["name"]


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """The ledger: who sent what (never the text) to which model, and its cost."""

    list_display = [
        "created_at",
        "user",
        "model_name",
        "provider",
        "action",
        "document",
        "status",
        "error_code",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "latency_ms",
        "ttft_ms",
    ]
    list_filter = [
        "status",
        ("user", admin.RelatedOnlyFieldListFilter),
        ("model", admin.RelatedOnlyFieldListFilter),
        "provider",
        "action",
        "is_stream",
        ("created_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["user", "document"]
    search_fields = ["user__email", "model_name", "error_code"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        """Add per-user totals of the filtered rows above the list."""
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["user_totals"] = self.user_totals(context["cl"].queryset)
        return response

    @staticmethod
    def user_totals(queryset: QuerySet[UsageRecord]) -> list[dict[str, Any]]:
        """Return requests, tokens and cost per user, costliest first (top 20)."""
        return list(
            queryset.order_by()
            .values("user__email")
            .annotate(
                requests=Count("id"),
                tokens=Sum(F("prompt_tokens") + F("completion_tokens")),
                total_cost=Sum("cost"),
            )
            .order_by("-total_cost", "-tokens")[:20]
        )


class UserQuotaInline(admin.StackedInline):
    """The AI quota override, shown on the user's admin page."""

    model = UserQuota
    can_delete = True
    extra = 0
    max_num = 1
    verbose_name = "AI quota override"
    verbose_name_plural = "AI quota override"


@admin.register(UserQuota)
class UserQuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "tokens_per_month", "requests_per_minute", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]


def _attach_inline() -> None:
    """Show the quota override on the user admin (``accounts`` registers it first)."""
    user_admin = admin.site._registry.get(get_user_model())
    if user_admin is not None and UserQuotaInline not in user_admin.inlines:
        user_admin.inlines = [*user_admin.inlines, UserQuotaInline]


_attach_inline()
