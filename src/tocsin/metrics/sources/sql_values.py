"""Database values as JSON: numbers stay numbers where JSON holds them exactly."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import Decimal
from typing import Any


def to_json(value: Any) -> Any:
    """A database value as JSON: numbers stay numbers where JSON can hold them exactly."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity; a string keeps the reason readable downstream.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        # Seconds, so "now() - max(created_at)" is a lag one can alert on.
        whole = Decimal(value.days * 86400 + value.seconds)
        return _decimal(whole + Decimal(value.microseconds).scaleb(-6))
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return str(value)


def _decimal(value: Decimal) -> int | float | str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value() and value.adjusted() < 100:
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and Decimal(repr(as_float)) == value:
        return as_float
    # A float would round it: keep the exact digits as a numeric string.
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
