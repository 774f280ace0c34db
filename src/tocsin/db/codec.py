"""Python values to and from what each engine's driver takes, exactly as the column types
in ``db/types.py`` convert them, for the two paths that skip SQLAlchemy's per-value
processing: bulk writes (``db/bulk.py``) and native statements (``db/native.py``).

One converter per column type and engine, chosen once per statement: converting each
value through SQLAlchemy's type machinery cost more than the database's own work on the
evaluator's hot path. A test proves that rows written through these read back through the
normal typed path unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Boolean, Integer, String, Text, Uuid
from sqlalchemy.types import NullType

from tocsin.db.types import ExactDecimal, UTCDateTime

Convert = Callable[[Any], Any]


def same(value: Any) -> Any:
    """The identity: the driver takes the value as it is."""
    return value


def json_bytes(value: Any) -> bytes:
    # orjson: an evaluation writes a JSON payload per notification, and the standard
    # library's encoder costs several times as much.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: Tocsin stores aware UTC times only")
    return value


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


@lru_cache(maxsize=64)
def _sqlite_datetime(value: datetime | None) -> str | None:
    # Cached: a batch repeats the same few times (the execution's, now) thousands of times.
    if value is None:
        return None
    # SQLAlchemy's SQLite DATETIME format, so SQL comparisons of stored text stay ordered.
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_decimal(value: Decimal | None) -> str | None:
    if value is None:
        return None
    value = Decimal(value)
    return format(value, "f") if value.is_finite() else str(value)


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _sqlite_json(value: Any) -> str | None:
    return None if value is None else json_bytes(value).decode()


def _pg_json(value: Any) -> Any:
    # Python None is JSON null, as SQLAlchemy's JSON type stores it (none_as_null off).
    return Jsonb(value, dumps=json_bytes)


def _pg_datetime(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


_PLAIN = (Uuid, UTCDateTime, ExactDecimal, Boolean, Integer, String, Text, NullType)


def to_sqlite(column_type: Any) -> Convert:
    """What ``sqlite3`` is given for a value of ``column_type``."""
    # JSON().with_variant(JSONB) keeps JSON as the base type.
    for kind, convert in (
        (Uuid, _sqlite_uuid),
        (UTCDateTime, _sqlite_datetime),
        (ExactDecimal, _sqlite_decimal),
        (Boolean, _sqlite_bool),
        (JSON, _sqlite_json),
    ):
        if isinstance(column_type, kind):
            return convert
    if isinstance(column_type, _PLAIN):
        return same
    raise TypeError(f"no SQLite conversion for {column_type!r}")


# The column types whose values psycopg takes converted (``to_postgres``).
PG_CONVERTED = (JSON, UTCDateTime)


def to_postgres(column_type: Any) -> Convert:
    """What psycopg is given for a value of ``column_type``."""
    if isinstance(column_type, JSON):
        return _pg_json
    if isinstance(column_type, UTCDateTime):
        return _pg_datetime
    if isinstance(column_type, _PLAIN):
        return same
    raise TypeError(f"no PostgreSQL conversion for {column_type!r}")


def for_engine(column_type: Any, dialect: str) -> Convert:
    return to_sqlite(column_type) if dialect == "sqlite" else to_postgres(column_type)


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


def pg_array_type(column_type: Any) -> str:
    """The PostgreSQL element type of an array parameter of ``column_type`` values."""
    for kind, name in _PG_ARRAY_TYPES.items():
        if isinstance(column_type, kind):
            return name
    raise TypeError(f"no array type for {column_type!r}")


def from_postgres(row: dict[str, Any]) -> dict[str, Any]:
    """A row psycopg returned, as the typed columns hand it out: times in UTC (the
    session's time zone is left alone, since a transaction pooler would not keep it)."""
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.astimezone(UTC)
    return row
