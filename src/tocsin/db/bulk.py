"""Bulk writes at the driver level, for the evaluator's hot path.

Evaluating thousands of alerts writes thousands of history, outbox and alert rows per
execution. Through SQLAlchemy's typed executemany, converting each value costs more
than the database's own work, so these helpers convert once per column with the same
representation SQLAlchemy's types use, and hand the rows to the driver directly:
``executemany`` on SQLite, ``COPY`` and a single array-driven ``UPDATE`` on PostgreSQL.
A test proves that rows written here read back through the normal typed path unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from sqlalchemy import JSON, Boolean, Connection, Integer, String, Table, Text, Uuid

from tocsin.db.types import ExactDecimal, UTCDateTime

Convert = Callable[[Any], Any]
Columns = Mapping[str, Sequence[Any]]
_UNSET = object()


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


@lru_cache(maxsize=64)
def _sqlite_datetime(value: datetime | None) -> str | None:
    # Cached: a batch repeats the same few times (the execution's, now) thousands of times.
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: Tocsin stores aware UTC times only")
    # SQLAlchemy's SQLite DATETIME format, so SQL comparisons of stored text stay ordered.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_decimal(value: Decimal | None) -> str | None:
    if value is None:
        return None
    value = Decimal(value)
    return format(value, "f") if value.is_finite() else str(value)


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _json_bytes(value: Any) -> bytes:
    # orjson: an evaluation writes a JSON payload per notification, and the standard
    # library's encoder costs several times as much.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _sqlite_json(value: Any) -> str | None:
    return None if value is None else _json_bytes(value).decode()


def _same(value: Any) -> Any:
    return value


def _pg_json(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return None if value is None else Jsonb(value, dumps=_json_bytes)


def _converter(column_type: Any, dialect: str) -> Convert:
    if dialect == "sqlite":
        if isinstance(column_type, Uuid):
            return _sqlite_uuid
        if isinstance(column_type, UTCDateTime):
            return _sqlite_datetime
        if isinstance(column_type, ExactDecimal):
            return _sqlite_decimal
        if isinstance(column_type, Boolean):
            return _sqlite_bool
        if isinstance(column_type, JSON):
            return _sqlite_json
    elif isinstance(column_type, JSON):
        return _pg_json
    elif isinstance(column_type, UTCDateTime):
        return _pg_datetime
    if isinstance(
        column_type, Uuid | UTCDateTime | ExactDecimal | Boolean | Integer | String | Text
    ):
        return _same
    raise TypeError(f"no bulk converter for {column_type!r}")


def _pg_datetime(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: Tocsin stores aware UTC times only")
    return value


def _psycopg(raw: Any) -> psycopg.Connection[Any]:
    assert isinstance(raw, psycopg.Connection)
    return raw


def _converters(table: Table, columns: Sequence[str], dialect: str) -> list[Convert]:
    return list(_cached_converters(table, tuple(columns), dialect))


@lru_cache(maxsize=256)
def _cached_converters(table: Table, columns: tuple[str, ...], dialect: str) -> tuple[Convert, ...]:
    # JSON().with_variant(JSONB) keeps JSON as the base type.
    return tuple(_converter(table.c[name].type, dialect) for name in columns)


def _converted(values: Sequence[Any], convert: Convert) -> Sequence[Any]:
    """One column's values, converted. Column by column, so that a value repeated from
    the row before (an evaluation's time, execution, org, value) is converted once."""
    if convert is _same:
        return values
    out = []
    last: Any = _UNSET
    done: Any = None
    for value in values:
        if value is not last:
            last, done = value, convert(value)
        out.append(done)
    return out


def _by_column(rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    return {column: [row[column] for row in rows] for column in rows[0]}


def _length(columns: Columns) -> int:
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of unequal lengths: {sorted(lengths)}")
    return lengths.pop()


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all rows have the same keys)."""
    if rows:
        insert_columns(conn, table, _by_column(rows))


def insert_columns(conn: Connection, table: Table, columns: Columns) -> None:
    """INSERT rows given column by column: ``{name: [value of row 0, row 1, ...]}``.

    The form a batch is built in when each column comes from one pass over the batch,
    which costs less than a dict per row."""
    if not columns or not _length(columns):
        return
    names = list(columns)
    dialect = conn.dialect.name
    convert = _converters(table, names, dialect)
    tuples = list(
        zip(
            *(_converted(v, f) for v, f in zip(columns.values(), convert, strict=True)),
            strict=True,
        )
    )
    listed = ", ".join(names)
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in names)
        raw.cursor().executemany(f"INSERT INTO {table.name} ({listed}) VALUES ({marks})", tuples)
        return
    with (
        _psycopg(raw).cursor() as cur,
        cur.copy(f"COPY {table.name} ({listed}) FROM STDIN") as copy,
    ):
        for item in tuples:
            copy.write_row(item)


_PG_ARRAY_TYPES = {
    Uuid: "uuid",
    UTCDateTime: "timestamptz",
    ExactDecimal: "numeric",
    Boolean: "boolean",
    Integer: "integer",
    String: "text",
    Text: "text",
    JSON: "jsonb",
}


def _pg_array_type(column_type: Any) -> str:
    for kind, name in _PG_ARRAY_TYPES.items():
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no array type for {column_type!r}")


def update_rows(
    conn: Connection,
    table: Table,
    key: str | Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    where: str = "",
    unset_or_not_after: tuple[str, str] | None = None,
) -> int:
    """UPDATE each row matched on its ``key`` column(s) (all rows have the same keys),
    only where the fixed SQL condition ``where`` also holds; returns rows changed.

    ``unset_or_not_after=(column, field)`` adds a per-row condition: the stored ``column`` is NULL
    or not after the row's ``field`` (which is compared, not written)."""
    if not rows:
        return 0
    return update_columns(
        conn, table, key, _by_column(rows), where=where, unset_or_not_after=unset_or_not_after
    )


def update_columns(
    conn: Connection,
    table: Table,
    key: str | Sequence[str],
    columns: Columns,
    *,
    where: str = "",
    unset_or_not_after: tuple[str, str] | None = None,
) -> int:
    """``update_rows`` for rows given column by column, as ``insert_columns`` takes them."""
    if not columns or not _length(columns):
        return 0
    keys = [key] if isinstance(key, str) else list(key)
    guard_column, guard_field = unset_or_not_after or (None, None)
    written = [c for c in columns if c not in keys and c != guard_field]
    dialect = conn.dialect.name
    ordered = [*keys, *written]
    convert = dict(zip(ordered, _converters(table, ordered, dialect), strict=True))
    compared: list[str] = []
    if guard_column is not None and guard_field is not None:
        convert[guard_field] = _converters(table, [guard_column], dialect)[0]
        compared = [guard_field]
    extra = f" AND {where}" if where else ""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    if dialect == "sqlite":
        sets = ", ".join(f"{c} = ?" for c in written)
        match = " AND ".join(f"{k} = ?" for k in keys)
        if guard_column is not None:
            extra += f" AND ({guard_column} IS NULL OR {guard_column} <= ?)"
        params = [*written, *keys, *compared]
        tuples = list(zip(*(_converted(columns[c], convert[c]) for c in params), strict=True))
        cursor = raw.cursor()
        cursor.executemany(f"UPDATE {table.name} SET {sets} WHERE {match}{extra}", tuples)
        return int(cursor.rowcount)
    # One statement for all rows: unnest() of one array per column.
    given = [*ordered, *compared]
    arrays = [list(_converted(columns[c], convert[c])) for c in given]
    types = [_pg_array_type(table.c[c].type) for c in ordered]
    if guard_column is not None:
        types.append(_pg_array_type(table.c[guard_column].type))
        extra += (
            f" AND ({table.name}.{guard_column} IS NULL"
            f" OR {table.name}.{guard_column} <= v.{guard_field})"
        )
    # Arrays as binary parameters: psycopg's text form of an array quotes and escapes
    # every element with regular expressions, which cost more than the UPDATE itself.
    unnest = ", ".join(f"%b::{t}[]" for t in types)
    sets = ", ".join(f"{c} = v.{c}" for c in written)
    match = " AND ".join(f"{table.name}.{k} = v.{k}" for k in keys)
    sql = (
        f"UPDATE {table.name} SET {sets} FROM unnest({unnest}) AS v({', '.join(given)}) "
        f"WHERE {match}{extra}"
    )
    with _psycopg(raw).cursor() as cur:
        cur.execute(sql, arrays)
        return int(cur.rowcount)
