"""Money as staff read it: US dollars, a few decimals, prices per 1M tokens.

The ledger stores costs with 10 decimal places and prices per token with
12, so that nothing is lost in sums; these helpers only shape what is shown
(the admin, the CSV exports keep the exact decimals).
"""

from decimal import ROUND_HALF_EVEN, Decimal

PER_MILLION = Decimal(1_000_000)
_COST_PLACES = 4
_PRICE_PLACES = 2


def _fixed(value: Decimal, places: int) -> Decimal:
    """Round to ``places`` decimals, or to 2 significant digits if smaller."""
    if value.is_zero():
        return Decimal(0).quantize(Decimal(1).scaleb(-_PRICE_PLACES))
    shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if not shown.is_zero():
        return shown
    # Too small for ``places``: keep two significant digits (0.0000021).
    exponent = value.adjusted() - 1
    return value.quantize(
        Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN
    ).normalize()


def usd(value: Decimal | int | None) -> str:
    """Return a cost as ``$0.0114`` (4 decimals; 2 significant digits if smaller).

    Zero is ``$0.00``; thousands are grouped (``$1,234.5000``).
    """
    amount = Decimal(value or 0)
    sign = "-" if amount < 0 else ""
    return f"{sign}${_fixed(abs(amount), _COST_PLACES):,f}"


def price_per_million(price_per_token: Decimal | None) -> Decimal:
    """Return a per-token price as the price of 1M tokens, without trailing zeros."""
    price = (price_per_token or Decimal(0)) * PER_MILLION
    normal = price.normalize()
    if normal.as_tuple().exponent > -_PRICE_PLACES:
        return price.quantize(Decimal(1).scaleb(-_PRICE_PLACES))
    return normal


def usd_price(price_per_token: Decimal | None) -> str:
    """Return a per-token price as the dollars of 1M tokens: ``$2.50``."""
    return f"${price_per_million(price_per_token):,f}"
