"""Bulk writes at the driver level, for the evaluator's hot path.

Evaluating thousands of alerts writes thousands of history, outbox and alert rows per
execution. Through SQLAlchemy's typed executemany, converting each value costs more
than the database's own work, so these helpers convert column by column with the
converters of ``db/codec.py`` and hand the rows to the driver directly: ``executemany``
on SQLite, ``COPY`` and a single array-driven ``UPDATE`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import Connection, Table

from tocsin.db.codec import Convert, for_engine, pg_array_type, same

Columns = Mapping[str, Sequence[Any]]
_UNSET = object()


def _psycopg(raw: Any) -> psycopg.Connection[Any]:
    assert isinstance(raw, psycopg.Connection)
    return raw


def _converters(table: Table, columns: Sequence[str], dialect: str) -> list[Convert]:
    return list(_cached_converters(table, tuple(columns), dialect))


@lru_cache(maxsize=256)
def _cached_converters(table: Table, columns: tuple[str, ...], dialect: str) -> tuple[Convert, ...]:
    return tuple(for_engine(table.c[name].type, dialect) for name in columns)


def _converted(values: Sequence[Any], convert: Convert) -> Sequence[Any]:
    """One column's values, converted. Column by column, so that a value repeated from
    the row before (an evaluation's time, execution, org, value) is converted once."""
    if convert is same:
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
    types = [pg_array_type(table.c[c].type) for c in ordered]
    if guard_column is not None:
        types.append(pg_array_type(table.c[guard_column].type))
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
