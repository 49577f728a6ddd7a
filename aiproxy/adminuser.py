"""The AI part of a user's admin page: this month's usage, what is left, the ledger.

The numbers are ``usage_summary_for``'s, the same the user reads from
``GET /api/v1/ai/usage``: the quota rule is computed in one place.
"""

from decimal import Decimal

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from aiproxy.models import UsageRecord
from aiproxy.money import usd
from aiproxy.selectors import usage_summary_for
from project.adminlinks import list_link, user_admin_add_field


def _n(value: int) -> str:
    return number_format(value, force_grouping=True)


def _usd(value: str) -> str:
    """Return a cost as the ledger shows it (``$0.0114``)."""
    return usd(Decimal(value))


@admin.display(description=_("AI usage this month"))
def ai_usage_this_month(user) -> str:
    """Return this month's tokens used, reserved and left, per model, with ledger links."""
    if user is None or user.pk is None:
        return "-"
    summary = usage_summary_for(user=user, now=timezone.now())
    start = summary["period_start"]
    models = format_html_join(
        "",
        '<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td>'
        '<td class="num">{}</td><td class="num">{}</td></tr>',
        (
            (
                row["model"],
                _n(row["requests"]),
                _n(row["prompt_tokens"]),
                _n(row["completion_tokens"]),
                _usd(row["cost"]),
            )
            for row in summary["by_model"]
        ),
    )
    table = (
        format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("Model"),
            _("Requests"),
            _("Prompt tokens"),
            _("Completion tokens"),
            _("Cost"),
            models,
        )
        if summary["by_model"]
        else ""
    )
    return format_html(
        '<p id="ai-usage-summary">Tokens: <strong>{} left</strong> of {} until {} '
        "({} used, {} reserved by requests in flight). Requests: {} (at most {} "
        "a minute). Cost: {}.</p>{}<p>{} · {}</p>",
        _n(summary["tokens_remaining"]),
        _n(summary["tokens_limit"]),
        date_format(summary["period_end"], "DATETIME_FORMAT"),
        _n(summary["tokens_used"]),
        _n(summary["tokens_reserved"]),
        _n(summary["requests"]),
        _n(summary["requests_per_minute"]),
        _usd(summary["cost"]),
        table,
        list_link(
            UsageRecord,
            _("Ledger rows this month"),
            user=user.pk,
            period_start=start.isoformat(),
        ),
        list_link(UsageRecord, _("all their ledger rows"), user=user.pk),
    )


user_admin_add_field(
    name="ai_usage_this_month", display=ai_usage_this_month, section=_("AI")
)
