"""How old a result's data is: a metric's freshness check (docs/alerts.md, "Freshness").

A metric may name where its data's own time is: ``fresh_column`` (a column of a table
result, a key of each object of a list, or of one object) or ``fresh_path`` (a JSONPath
into the whole result), with ``max_age_seconds``. A run whose newest timestamp is older
than that when the run completed reads as no data ("data stale: newest row 3 h old, max
1 h"): a late ETL job is not "signups fell 100%".

Pure, like ``extract.py``: :func:`judged` never raises for bad data. Timestamps are taken
as sources give them: ISO-8601 text with or without a zone (without one it is UTC, as a
SQL ``timestamp`` column is usually kept), ``datetime`` and ``date`` objects, and
numbers as epoch seconds. A null is no timestamp; anything else unreadable is an error
naming where it was and what it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from tocsin.durations import format_duration, spoken_duration
from tocsin.metrics.selector import ValueSelector, compiled_json_path

_SHOWN_CHARS = 60
Verdict = tuple[Literal["no_data", "error"], str]


class _Failed(Exception):
    """The freshness verdict when it is not "fresh": ``status`` and ``reason``."""

    def __init__(self, status: Literal["no_data", "error"], reason: str) -> None:
        super().__init__(reason)
        self.status: Literal["no_data", "error"] = status
        self.reason = reason


def asked(selector: ValueSelector) -> bool:
    """Whether ``selector`` asks for a freshness check."""
    return selector.max_age_seconds is not None and (
        selector.fresh_column is not None or selector.fresh_path is not None
    )


def judged(result: object, selector: ValueSelector, at: datetime) -> Verdict | None:
    """``(status, reason)`` when ``result`` is stale (``no_data``) or its time cannot be
    read (``error``); None when it is fresh, or holds no rows to judge (an empty table
    is read as it always is: no data, or a count of 0)."""
    try:
        if selector.fresh_path is not None:
            _judge_path(result, selector.fresh_path, selector, at)
        elif selector.fresh_column is not None:
            data = _value_data(result, selector.json_path)
            _judge_rows(_rows_of(data, selector.fresh_column), selector, at)
    except _Failed as failed:
        return failed.status, failed.reason
    return None


def parse_timestamp(raw: object) -> datetime | None:
    """``raw`` as an aware datetime; None for a null. ValueError when it is no time."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ValueError("a boolean")
    if isinstance(raw, datetime):
        return raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time(), UTC)
    if isinstance(raw, int | float | Decimal):
        if isinstance(raw, float | Decimal) and not math.isfinite(raw):
            raise ValueError("not finite")
        try:
            return datetime.fromtimestamp(float(raw), UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("out of range as epoch seconds") from None
    if isinstance(raw, str):
        parsed = datetime.fromisoformat(raw.strip())
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise ValueError("not a time")


def _value_data(result: object, json_path: str | None) -> object:
    """Where the value is read from, so the fresh column is that table's: the whole
    result, or what the value's JSONPath matched (its one match, or its matches as rows)."""
    if json_path is None:
        return result
    try:
        found = [match.value for match in compiled_json_path(json_path).find(result)]
    except Exception:  # noqa: BLE001 - the value's reading reports the same failure
        return None
    return found[0] if len(found) == 1 else found


def _judge_path(result: object, path: str, selector: ValueSelector, at: datetime) -> None:
    try:
        found = [match.value for match in compiled_json_path(path).find(result)]
    except Exception as exc:  # filters can hit TypeError etc. on odd data; still bad data
        raise _Failed("error", f"fresh path {path} could not be applied: {exc}") from None
    if not found:
        raise _Failed("error", f"fresh path {path} matched nothing in the result")
    newest = _newest(found, f"fresh path {path}")
    _judge(newest, selector, at, "newest timestamp", f"no timestamp at {path}")


def _judge_rows(
    rows: Sequence[dict[str, Any]] | None, selector: ValueSelector, at: datetime
) -> None:
    if not rows:
        return
    column = selector.fresh_column
    assert column is not None  # only called for a fresh column
    newest = _newest([row.get(column) for row in rows], f"fresh column {column}")
    _judge(newest, selector, at, "newest row", f"no row has a time in {column}")


def _judge(newest: datetime | None, sel: ValueSelector, at: datetime, what: str, none: str) -> None:
    assert sel.max_age_seconds is not None  # asked() said so
    if newest is None:
        raise _Failed("no_data", f"data stale: {none}")
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    age = (at - newest).total_seconds()
    if age > sel.max_age_seconds:
        most = spoken_duration(sel.max_age_seconds)
        said = spoken_duration(math.ceil(age))
        # Rounded down, 1 h 0 min 30 s reads "1 h" like its limit: it is over it.
        said = f"over {said}" if said == most else said
        raise _Failed("no_data", f"data stale: {what} {said} old, max {most}")


def _newest(cells: Sequence[object], where: str) -> datetime | None:
    newest = None
    for cell in cells:
        try:
            stamp = parse_timestamp(cell)
        except ValueError:
            raise _Failed("error", f"{where}: {_shown(cell)} is not a timestamp{_HINT}") from None
        if stamp is not None and (newest is None or stamp > newest):
            newest = stamp
    return newest


_HINT = " (expected ISO-8601 such as 2026-01-05T09:30:00Z, or epoch seconds)"


def _rows_of(data: object, column: str) -> list[dict[str, Any]] | None:
    """The rows the fresh column is read from: a table's, a list of objects, or one
    object; None when there are none. A missing column is an error naming it."""
    if isinstance(data, dict) and "columns" in data and "rows" in data:
        columns, rows = data["columns"], data["rows"]
        if not isinstance(columns, list | tuple) or not isinstance(rows, list | tuple):
            return None  # malformed: the value's reading says so
        names = [str(c.get("name", c)) if isinstance(c, dict) else str(c) for c in columns]
        _require(column, names)
        return [
            row if isinstance(row, dict) else dict(zip(names, row, strict=False))
            for row in rows
            if isinstance(row, dict | list | tuple)
        ]
    if isinstance(data, list | tuple) and data and all(isinstance(i, dict) for i in data):
        _require(column, [str(k) for item in data for k in item])
        return list(data)
    if isinstance(data, dict) and data:
        _require(column, [str(k) for k in data])
        return [data]
    if data is None or (isinstance(data, str | list | tuple | dict) and not data):
        return None  # empty: read as it always is
    raise _Failed("error", f"fresh column {column}: the result is not a table ({_shown(data)})")


def _require(column: str, names: Sequence[str]) -> None:
    if column not in names:
        shown = ", ".join(dict.fromkeys(names[:50])) or "none"
        raise _Failed("error", f"fresh column {column} not found; columns: {shown}")


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, datetime | date) else value.isoformat()
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def freshness_words(selector: ValueSelector | None) -> str | None:
    """``updated_at, max 1h``: a metric's freshness as its pages show it (None: none)."""
    if selector is None or not asked(selector) or selector.max_age_seconds is None:
        return None
    where = selector.fresh_column or selector.fresh_path
    return f"{where}, max {format_duration(selector.max_age_seconds)}"
