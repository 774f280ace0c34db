"""Decimals as JSON numbers: the contract says numbers are JSON numbers."""

from __future__ import annotations

from decimal import Decimal


def json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    if not value.is_finite():
        return float(value)
    return int(value) if value == value.to_integral_value() else float(value)
