"""Admin: the model catalogue, the usage ledger (read-only) and quota overrides.

Money is shown in dollars with a few decimals (``aiproxy.money``) and prices
per 1M tokens; the database keeps the exact per-token prices and costs.
"""

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

# adminuser: imported for its effect, the AI usage on the user's page.
from aiproxy import adminuser, providers  # noqa: F401
from aiproxy.models import AIModel, UsageRecord, UserQuota
from aiproxy.money import PER_MILLION, price_per_million, usd, usd_price
from aiproxy.selectors import usage_totals
from aiproxy.services.export import usage_export_csv
from project.adminexport import CsvExportAdmin
from project.adminlinks import linked


def _provider_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in providers.provider_names()]


class AIModelForm(forms.ModelForm):
    """A catalogue model: a configured provider, prices per 1M tokens."""

    provider = forms.ChoiceField(
        choices=_provider_choices,
        help_text=_("One of the providers configured in AI_PROVIDERS."),
    )
    input_price_per_million = forms.DecimalField(
        label=_("Input price (USD per 1M tokens)"),
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=6,
        initial=Decimal(0),
    )
    output_price_per_million = forms.DecimalField(
        label=_("Output price (USD per 1M tokens)"),
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=6,
        initial=Decimal(0),
    )

    class Meta:
        model = AIModel
        fields = [
            "name",
            "provider",
            "upstream_model",
            "is_enabled",
            "context_limit",
            "max_output_tokens",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: D107
        super().__init__(*args, **kwargs)
        configured = providers.provider_names()
        provider = self.fields["provider"]
        current = self.instance.provider
        if current and current not in configured:
            # Shown as it is stored, so that saving explains the problem.
            provider.choices = [
                *_provider_choices(),
                (current, _("%(name)s (not configured)") % {"name": current}),
            ]
        provider.error_messages["invalid_choice"] = _(
            '"%(value)s" is not a configured provider. Configured: %(names)s '
            "(the AI_PROVIDERS setting)."
        ) % {"value": "%(value)s", "names": ", ".join(configured) or _("none")}
        if self.instance.pk:
            self.initial["input_price_per_million"] = price_per_million(
                self.instance.input_price
            )
            self.initial["output_price_per_million"] = price_per_million(
                self.instance.output_price
            )

    def clean(self) -> dict[str, Any]:
        """Store the prices per token, as the ledger charges them."""
        cleaned = super().clean()
        for field in ("input_price", "output_price"):
            per_million = cleaned.get(field + "_per_million")
            if per_million is not None:
                setattr(self.instance, field, per_million / PER_MILLION)
        return cleaned


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin):
    form = AIModelForm
    list_display = [
        "name",
        "provider",
        "is_configured",
        "upstream_model",
        "is_enabled",
        "context_limit",
        "max_output_tokens",
        "input_price_display",
        "output_price_display",
    ]
    list_editable = ["is_enabled"]
    list_filter = ["provider", "is_enabled"]
    search_fields = ["name", "upstream_model"]
    ordering = ["name"]

    @admin.display(boolean=True, description=_("configured"))
    def is_configured(self, obj: AIModel) -> bool:
        """Whether the provider is in AI_PROVIDERS with its URL, key or region."""
        return providers.provider_problem(obj.provider) is None

    @admin.display(description=_("input / 1M tokens"), ordering="input_price")
    def input_price_display(self, obj: AIModel) -> str:
        return usd_price(obj.input_price)

    @admin.display(description=_("output / 1M tokens"), ordering="output_price")
    def output_price_display(self, obj: AIModel) -> str:
        return usd_price(obj.output_price)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list:
        return ["provider_status"] if obj is not None else []

    @admin.display(description=_("provider status"))
    def provider_status(self, obj: AIModel) -> str:
        problem = providers.provider_problem(obj.provider)
        return _("configured") if problem is None else problem


def _user_link(user: Any) -> str:
    if user is None:
        return "—"
    url = reverse("admin:accounts_user_change", args=[user.pk])
    local, at, domain = (user.email or str(user.pk)).partition("@")
    # A narrow column breaks a long email after its "@", not mid-word.
    return format_html('<a href="{}">{}{}<wbr>{}</a>', url, local, at, domain)


def _document_link(document: Any) -> str:
    if document is None:
        return "—"
    url = reverse("admin:documents_document_change", args=[document.pk])
    title = Truncator(document.title or str(document.pk)).chars(32)
    return format_html('<a href="{}">{}</a>', url, title)


def _breakable(code: str) -> str:
    """Return ``code`` with a line-break chance after each underscore."""
    return format_html_join(
        mark_safe("<wbr>"),  # noqa: S308 - a constant tag
        "{}",
        ((part,) for part in _split_after(code)),
    )


def _split_after(code: str) -> list[str]:
    parts = code.split("_")
    return [part + "_" for part in parts[:-1]] + parts[-1:]


@admin.register(UsageRecord)
class UsageRecordAdmin(CsvExportAdmin):
    """The ledger: who sent what (never the text) to which model, and its cost.

    The list keeps the columns staff scan (it fits 1280 px); the row's page
    has every field. Above the list: per-model and grand totals of all the
    filtered rows, not only the page shown; "Export CSV" downloads the same
    rows (``aiproxy.services.export``).
    """

    csv_export = staticmethod(usage_export_csv)
    actions = ["export_selected_csv"]

    class Media:
        css = {"all": ["aiproxy/ledger.css"]}

    list_display = [
        "created_at",
        "user_link",
        "request_display",
        "status_display",
        "tokens",
        "cost_display",
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
    fields = [
        "created_at",
        "user_link",
        "model_name",
        "model",
        "provider",
        "action",
        "document_link",
        "is_stream",
        "status",
        "error_code",
        "period_start",
        "reserved_tokens",
        "prompt_tokens",
        "completion_tokens",
        "cost_display",
        "latency_ms",
        "ttft_ms",
        "settled_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[UsageRecord]:
        # A document's text is never needed here: only its title.
        return super().get_queryset(request).defer("document__body")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("user"), ordering="user__email")
    def user_link(self, obj: UsageRecord) -> str:
        return _user_link(obj.user)

    @admin.display(description=_("document"))
    def document_link(self, obj: UsageRecord) -> str:
        return _document_link(obj.document)

    @admin.display(description=_("request"), ordering="model_name")
    def request_display(self, obj: UsageRecord) -> str:
        """Show the model asked for; for a document action, the action and document."""
        if obj.document_id is None and not obj.action:
            return obj.model_name
        return format_html(
            '{}<br><span class="quiet">{} · {}</span>',
            obj.model_name,
            obj.get_action_display(),
            _document_link(obj.document),
        )

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj: UsageRecord) -> str:
        """Show the status, and under it the error code of a failed request."""
        if obj.error_code and obj.error_code != obj.status:
            return format_html(
                '{}<br><span class="quiet">{}</span>',
                obj.status,
                _breakable(obj.error_code),
            )
        return obj.status

    @admin.display(description=_("tokens"))
    def tokens(self, obj: UsageRecord) -> int:
        return obj.total_tokens

    @admin.display(description=_("cost"), ordering="cost")
    def cost_display(self, obj: UsageRecord) -> str:
        return usd(obj.cost)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        """Add per-model and grand totals of the filtered rows above the list."""
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["ledger_totals"] = usage_totals(context["cl"].queryset)
        return response


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
    list_display = [
        linked("user", description=_("user"), ordering="user__email"),
        "tokens_per_month",
        "requests_per_minute",
        "updated_at",
    ]
    list_select_related = ["user"]
    search_fields = ["user__email"]
    raw_id_fields = ["user"]


def _attach_inline() -> None:
    """Show the quota override on the user admin (``accounts`` registers it first)."""
    if not admin.site.is_registered(get_user_model()):
        return
    user_admin = admin.site.get_model_admin(get_user_model())
    if UserQuotaInline not in user_admin.inlines:
        user_admin.inlines = [*user_admin.inlines, UserQuotaInline]


_attach_inline()
