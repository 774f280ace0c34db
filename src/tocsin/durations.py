"""Durations as people write them (``30s``, ``5m``, ``1h``, ``2d``, ``1h30m``), and as a
wait is said (``in 59 min``)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The longest mute, everywhere (CLI, API, UI): a year and a day's grace.
MAX_MUTE_SECONDS = 366 * 86400
_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str) -> int:
    """Seconds in ``text``. ValueError names what was expected.

    A bare number other than 0 is refused: a schedule of ``5`` could mean seconds or
    minutes, and guessing wrong runs a query sixty times too often."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned.isdigit() and int(cleaned) == 0:
        return 0
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        unit = " (a number needs a unit)" if cleaned.isdigit() else ""
        raise ValueError(
            f"{text!r} is not a duration{unit}: expected a duration such as 30s, 5m, 1h"
            " (or 2d, 1h30m)"
        )
    return sum(int(n) * _UNITS[u] for n, u in parts)


def check_mute_seconds(seconds: int) -> int:
    """A mute's length, as every edge accepts it (ValueError says the limits)."""
    if seconds <= 0 or seconds > MAX_MUTE_SECONDS:
        raise ValueError("expected a duration between 1 second and 366 days, e.g. 2h")
    return seconds


def format_duration(seconds: int) -> str:
    if seconds <= 0:
        return "0s"
    out = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def rounded_duration(seconds: int) -> str:
    """``59 min``, ``3 h``, ``2 days``: a wait in the unit people would say, rounded down
    (for "next notification in ...")."""
    for unit, size in (("days", 172800), ("h", 7200), ("min", 120)):
        if seconds >= size:
            return f"{seconds // (size // 2)} {unit}"
    return f"{seconds} s"


_SPOKEN = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def spoken_duration(seconds: int) -> str:
    """``3 h``, ``1 h 30 min``, ``45 s``: a length as a reason says it, in its largest
    unit and the next one when that is not zero, rounded down."""
    if seconds <= 0:
        return "0 s"
    for (unit, size), (next_unit, next_size) in zip(_SPOKEN, _SPOKEN[1:], strict=False):
        if seconds >= size:
            rest = seconds % size // next_size
            return f"{seconds // size} {unit}" + (f" {rest} {next_unit}" if rest else "")
    return f"{seconds} s"
