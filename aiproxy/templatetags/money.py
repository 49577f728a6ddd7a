"""Template filters for money: ``{{ cost|usd }}``, ``{{ price|usd_price }}``."""

from django import template

from aiproxy import money

register = template.Library()
register.filter("usd", money.usd)
register.filter("usd_price", money.usd_price)
