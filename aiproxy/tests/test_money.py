"""Money as the admin shows it: dollars, a few decimals, prices per 1M tokens."""

from decimal import Decimal

import pytest

from aiproxy.money import price_per_million, usd, usd_price


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.0114275000000000", "$0.0114"),
        ("0", "$0.00"),
        ("0E-12", "$0.00"),
        ("0.0000020000", "$0.000002"),
        ("0.0000567", "$0.0001"),
        ("0.0000432", "$0.000043"),
        ("1234.5", "$1,234.5000"),
        ("-0.5", "-$0.5000"),
    ],
)
def test_usd_rounds_to_four_decimals_or_two_significant_digits(value, shown):
    """A cost prints with 4 decimals; a smaller one with 2 significant digits."""
    assert usd(Decimal(value)) == shown


def test_usd_of_none_is_zero():
    """A missing sum (no rows) prints as zero dollars."""
    assert usd(None) == "$0.00"


@pytest.mark.parametrize(
    ("per_token", "shown"),
    [
        ("0.000001000000", "$1.00"),
        ("0.000002500000", "$2.50"),
        ("0.000000075000", "$0.075"),
        ("0.000015", "$15.00"),
        ("0E-12", "$0.00"),
        ("0.000000000001", "$0.000001"),
    ],
)
def test_usd_price_is_per_million_tokens(per_token, shown):
    """A per-token price prints as the price of 1M tokens, never 0E-12."""
    assert usd_price(Decimal(per_token)) == shown


def test_price_per_million_is_exact():
    """The per-1M price is the stored per-token price times a million, exactly."""
    assert price_per_million(Decimal("0.000000123456789012")) == Decimal(
        "0.123456789012"
    )
