"""Template filters of the admin's pages (the dashboard)."""

from decimal import Decimal

from django import template

from aiproxy.money import usd as money_usd

register = template.Library()


@register.filter
def usd(value: Decimal | int | None) -> str:
    """Return a cost as the ledger shows it: ``$0.0114``."""
    return money_usd(value)
