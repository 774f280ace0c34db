"""Reading one number out of an execution result (docs/alerts.md; docs/design.md).

Pure: no I/O, never raises for bad data. Every outcome is an :class:`Extracted` whose
``reason`` tells a human what was read, or why nothing usable was found.

Result shapes and the choices made where the brief leaves room:

* **Scalar** (``6``, ``6.5``, ``"6.5"``, ``" 1e3 "``): the value itself.
* **Object** ``{"value": 6}``: the ``value`` key. With ``selector.column`` the object is
  read by that key instead (``{"n": 6}`` + ``column="n"``). An object with neither is an
  error that asks for a selector: guessing a key would silently alert on the wrong number.
* **Table** ``{"columns": [...], "rows": [[...], ...]}`` (rows may also be objects keyed
  by column), a list of records ``[{"n": 3}, ...]``, a list of one-element rows
  ``[[3], ...]`` or a plain list ``[3, 4]``:

  - the column is ``selector.column``; without it a single-column table uses its only
    column, and a table with several columns is an **error asking for
    ``selector.column``** (we do not pick "the first numeric column": ``SELECT id, n``
    would then alert on ids);
  - the row reducer is ``first`` (default), ``min``, ``max``, ``sum`` or ``count``.
    ``count`` is the number of rows, needs no column, and is ``0`` for an empty table;
    every other reducer on an empty table is **no data**. ``first`` reads only the first
    row, so bad cells further down do not matter; ``min``/``max``/``sum`` need every cell
    to be a number.
* **Arbitrary JSON + ``selector.json_path``** (jsonpath-ng extended syntax, so filters
  such as ``$.items[?(@.state == "open")]`` work): no match is **no data**, except with
  ``row="count"`` where it is ``0`` (counting matches of a filter is the point). A single
  match is read like a whole result (so ``$.data`` may point at a scalar, a ``{"value"}``
  object or a table); several matches are rows, reduced by ``selector.row``.

Numbers: ints, finite floats (through ``Decimal(str(x))`` so ``0.1`` stays ``0.1``),
finite ``Decimal`` and plain ASCII numeric strings (surrounding blanks allowed, exponent
allowed, no thousands separators). Booleans, NaN, infinities and
any other string, list or object are **errors**. An empty result (``None``, ``""``,
``[]``, ``{}``, a table without rows) is **no data**.

Freshness (``selector.fresh_column`` / ``fresh_path`` with ``max_age_seconds``, judged in
``freshness.py`` when the run's completion time is given): data older than that is **no
data**, an unreadable timestamp or a missing fresh column an **error**, before the value
is read at all. A table's fresh column is never its value column.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NoReturn

from tocsin.metrics import freshness
from tocsin.metrics.selector import RowReducer, ValueSelector, compiled_json_path
from tocsin.numbers import DECIMAL_CONTEXT, format_decimal

__all__ = ["Extracted", "ValueSelector", "compiled_json_path", "describe_raw", "extract_value"]

ExtractStatus = Literal["value", "no_data", "error"]

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NON_FINITE_RE = re.compile(r"[+-]?(?:inf|infinity|s?nan)", re.IGNORECASE)
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class Extracted:
    status: ExtractStatus
    value: Decimal | None
    reason: str


def extract_value(
    result: object, selector: ValueSelector | None = None, *, at: datetime | None = None
) -> Extracted:
    """Read the number an alert compares from ``result``; never raises for bad data.

    ``at``: when the run completed, for the selector's freshness check (None: none is
    made). Stale data reads as no data, whatever its value."""
    sel = selector if selector is not None else ValueSelector()
    if at is not None and freshness.asked(sel):
        verdict = freshness.judged(result, sel, at)
        if verdict is not None:
            return Extracted(verdict[0], None, verdict[1])
    try:
        if sel.json_path is not None:
            return _extract_json_path(result, sel, sel.json_path)
        return _from_shape(result, sel, "")
    except _Unreadable as exc:
        return Extracted(exc.status, None, exc.reason)
    except RecursionError:
        return Extracted("error", None, "the result is nested too deeply to read")


def describe_raw(value: object) -> str:
    """JSON-like rendering of a bad value for error reasons, truncated."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, Decimal):
        text = str(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return text


class _Unreadable(Exception):
    """Internal short-cut out of nested reading; always turned into an Extracted."""

    def __init__(self, status: Literal["no_data", "error"], reason: str) -> None:
        super().__init__(reason)
        self.status: Literal["no_data", "error"] = status
        self.reason = reason


def _no_data(reason: str) -> NoReturn:
    raise _Unreadable("no_data", reason)


def _error(reason: str) -> NoReturn:
    raise _Unreadable("error", reason)


def _extract_json_path(result: object, sel: ValueSelector, path: str) -> Extracted:
    try:
        matches = [match.value for match in compiled_json_path(path).find(result)]
    except Exception as exc:  # filters can hit TypeError etc. on odd data; still bad data
        _error(f"JSONPath {path} could not be applied to the result: {exc}")
    where = f"JSONPath {path}"
    if not matches:
        if sel.row == "count":
            return Extracted("value", Decimal(0), f"{where} matched nothing: count 0")
        _no_data(f"{where} matched nothing")
    if len(matches) == 1:
        match = matches[0]
        if sel.row == "count" and not _is_rows(match):
            # A filter that matched one item counts 1, whatever that item looks like.
            return Extracted("value", Decimal(1), f"count 1: 1 match of {where}")
        return _from_shape(match, sel.model_copy(update={"json_path": None}), where)
    return _reduce(matches, sel.row, f"{len(matches)} matches of {where}")


def _is_rows(data: object) -> bool:
    if isinstance(data, list | tuple):
        return True
    return isinstance(data, dict) and "columns" in data and "rows" in data


def _from_shape(data: object, sel: ValueSelector, where: str) -> Extracted:
    at = f" at {where}" if where else ""
    if data is None:
        _no_data(f"the result{at} is empty (null)")
    if isinstance(data, str) and not data.strip():
        _no_data(f"the result{at} is an empty string")
    if isinstance(data, dict):
        return _from_object(data, sel, at)
    if isinstance(data, list | tuple):
        return _from_list(list(data), sel, at)
    if sel.column is not None:
        _error(f'selector.column "{sel.column}" is set but the result{at} is a single value')
    if sel.row == "count":
        return Extracted("value", Decimal(1), f"count 1: the result{at} is a single value")
    value = _to_decimal(data)
    return Extracted("value", value, f"value {format_decimal(value)}{at}")


def _from_object(data: dict[Any, Any], sel: ValueSelector, at: str) -> Extracted:
    if not data:
        _no_data(f"the result{at} is an empty object")
    if "columns" in data and "rows" in data:
        return _from_table(data["columns"], data["rows"], sel, at)
    if sel.column is not None:
        if sel.column not in data:
            _error(f'column "{sel.column}" not found in the result{at}; keys: {_names(list(data))}')
        cell = data[sel.column]
        if sel.row == "count" and isinstance(cell, list):
            return Extracted("value", Decimal(len(cell)), f'count {len(cell)} of "{sel.column}"')
        value = _cell(cell, f'key "{sel.column}"')
        return Extracted("value", value, f'value {format_decimal(value)} (key "{sel.column}"){at}')
    if "value" in data:
        value = _cell(data["value"], 'key "value"')
        return Extracted("value", value, f"value {format_decimal(value)}{at}")
    _error(
        f'the result{at} is an object without a "value" key (keys: {_names(list(data))}); '
        "set selector.column or selector.json_path to choose the number"
    )


def _from_list(items: list[Any], sel: ValueSelector, at: str) -> Extracted:
    if items and all(isinstance(item, dict) for item in items):
        columns: list[Any] = []
        for item in items:
            columns.extend(key for key in item if key not in columns)
        return _from_table(columns, items, sel, at)
    if items and all(isinstance(item, list | tuple) for item in items):
        width = max(len(item) for item in items)
        if sel.column is not None:
            _error(f'selector.column "{sel.column}" is set but the result{at} has no column names')
        return _from_table([f"#{i + 1}" for i in range(width)], items, sel, at)
    if sel.column is not None and items:
        _error(f'selector.column "{sel.column}" is set but the result{at} is a list of values')
    if not items:
        if sel.row == "count":
            return Extracted("value", Decimal(0), f"count 0: the result{at} is an empty list")
        _no_data(f"the result{at} is an empty list")
    return _reduce(items, sel.row, f"{_rows(len(items))}{at}")


def _from_table(columns: object, rows: object, sel: ValueSelector, at: str) -> Extracted:
    if not isinstance(columns, list | tuple) or not isinstance(rows, list | tuple):
        _error(f'the table{at} is malformed: "columns" and "rows" must be lists')
    names = [str(c.get("name", c)) if isinstance(c, dict) else str(c) for c in columns]
    if sel.row == "count":
        return Extracted("value", Decimal(len(rows)), f"count {len(rows)}: {_rows(len(rows))}{at}")
    if not rows:
        _no_data(f"the query returned no rows{at}")
    if sel.column is not None:
        if sel.column not in names:
            _error(f'column "{sel.column}" not found{at}; columns: {_names(names)}')
        index = names.index(sel.column)
    elif len(names) == 1:
        index = 0
    elif len(valued := [n for n in names if n != sel.fresh_column]) == 1:
        # The fresh column holds the rows' time, never the value: the other one does.
        index = names.index(valued[0])
    elif not names:
        _error(f"the table{at} has no columns")
    else:
        _error(
            f"the result{at} has {len(names)} columns ({_names(names)}); "
            "set selector.column to choose one"
        )
    name = names[index]
    cells = [_cell_of_row(row, index, name) for row in rows]
    return _reduce(cells, sel.row, f'column "{name}" of {_rows(len(rows))}{at}')


_MISSING = object()


def _cell_of_row(row: object, index: int, name: str) -> object:
    if isinstance(row, dict):
        return row.get(name, _MISSING)
    if isinstance(row, list | tuple):
        return row[index] if index < len(row) else _MISSING
    return _MISSING


def _reduce(cells: list[Any], reducer: RowReducer, described: str) -> Extracted:
    if reducer == "count":
        return Extracted("value", Decimal(len(cells)), f"count {len(cells)}: {described}")
    if reducer == "first":
        value = _cell(cells[0], "row 1" if len(cells) > 1 else "")
        note = f" (first of {described})" if len(cells) > 1 else f" ({described})"
        return Extracted("value", value, f"value {format_decimal(value)}{note}")
    values = [_cell(cell, f"row {n}") for n, cell in enumerate(cells, start=1)]
    if reducer == "min":
        value = min(values)
    elif reducer == "max":
        value = max(values)
    else:
        value = Decimal(0)
        for item in values:
            value = DECIMAL_CONTEXT.add(value, item)
    return Extracted("value", value, f"value {format_decimal(value)} ({reducer} of {described})")


def _cell(cell: object, where: str) -> Decimal:
    if cell is _MISSING:
        _error(f"{where}: the row has no such column" if where else "the row has no such column")
    try:
        return _to_decimal(cell)
    except _Unreadable as exc:
        if not where:
            raise
        raise _Unreadable(exc.status, f"{where}: {exc.reason}") from None


def _to_decimal(raw: object) -> Decimal:
    """Exact Decimal for a number-like cell; raises _Unreadable otherwise."""
    return _bounded(_parse_decimal(raw), raw)


# Beyond this, numbers stop fitting the database's NUMERIC and JSON's integers; no
# business metric comes near it.
MAX_MAGNITUDE_DIGITS = 100


def _bounded(value: Decimal, raw: object) -> Decimal:
    digits = len(value.as_tuple().digits)
    if value and (abs(value.adjusted()) > MAX_MAGNITUDE_DIGITS or digits > MAX_MAGNITUDE_DIGITS):
        _error(
            f"value {describe_raw(raw)} is too large or too precise "
            f"(at most {MAX_MAGNITUDE_DIGITS} digits)"
        )
    return value


def _parse_decimal(raw: object) -> Decimal:
    if isinstance(raw, bool):
        _error(f"value {describe_raw(raw)} is a boolean, not a number")
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            _error(f"value {describe_raw(raw)} is not a finite number")
        return Decimal(str(raw))
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            _error(f"value {describe_raw(raw)} is not a finite number")
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if _NUMBER_RE.fullmatch(text):
            try:
                return Decimal(text)
            except InvalidOperation:  # pragma: no cover - the regex admits only valid input
                pass
        if _NON_FINITE_RE.fullmatch(text):
            _error(f"value {describe_raw(raw)} is not a finite number")
        _error(f"value {describe_raw(raw)} is not a number")
    if raw is None:
        # SQL's max() over no rows, a JSON field not filled in yet: nothing to judge.
        _no_data("the value is null")
    if isinstance(raw, dict):
        _error(f"value {describe_raw(raw)} is an object, not a number")
    if isinstance(raw, list | tuple):
        _error(f"value {describe_raw(raw)} is a list, not a number")
    _error(f"value {describe_raw(raw)} is not a number")


def _names(names: list[Any]) -> str:
    shown = ", ".join(str(n) for n in names[:10])
    return shown + (", ..." if len(names) > 10 else "")


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"
