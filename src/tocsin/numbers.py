"""Decimals as Tocsin shows them: as JSON numbers (the contract says numbers are JSON
numbers) and in words (reasons, notifications, the planner's summaries)."""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

# Sums must stay exact: the default context (28 digits) would round large mixed-scale sums.
DECIMAL_CONTEXT = Context(prec=100, Emax=MAX_EMAX, Emin=MIN_EMIN)


def json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    if not value.is_finite():
        return float(value)
    return int(value) if value == value.to_integral_value() else float(value)


def format_decimal(value: Decimal, places: int | None = None) -> str:
    """Human form of a number for reasons: no exponent noise, no trailing zeros."""
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "infinity" if value > 0 else "-infinity"
    if places is not None and value.adjusted() < 60:
        value = value.quantize(Decimal(1).scaleb(-places), context=DECIMAL_CONTEXT)
    if value.is_zero():
        return "0"
    value = value.normalize(DECIMAL_CONTEXT)
    if -12 <= value.adjusted() <= 30:
        return format(value, "f")
    return str(value)
