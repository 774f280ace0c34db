"""The SQL source against real databases: a SQLite file and the test PostgreSQL server."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tocsin.db.engine import normalize_url
from tocsin.http import HttpClient
from tocsin.metrics.extract import ValueSelector, extract_value
from tocsin.metrics.sources import FetchContext, SourceError, build_source
from tocsin.metrics.sources.sql import dispose_engines
from tocsin.settings import Settings

ROWS = [
    (1, "12.50", "open", "2025-01-02 03:04:05"),
    (2, "0.10", "open", "2025-01-03 00:00:00"),
    (3, "7.00", "closed", "2025-01-04 12:00:00"),
    (4, "1.25", "open", "2025-01-05 08:30:00"),
]


@dataclass
class OrdersDb:
    engine: str
    dsn: str
    table: str

    def count(self) -> int:
        with create_engine(normalize_url(self.dsn)).connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {self.table}")).scalar_one())


def fetch(
    db: OrdersDb | None, sql: str, *, environ: dict[str, str] | None = None, **options: Any
) -> object:
    source = build_source({"type": "sql", "sql": sql, "dsn_env": "ORDERS_DB", **options})
    env = {"ORDERS_DB": db.dsn} if db is not None and environ is None else (environ or {})

    async def go() -> object:
        settings = Settings()
        async with HttpClient(settings) as http:
            return await source.fetch(FetchContext(settings=settings, http=http, environ=env))

    return asyncio.run(go())


def fetch_error(db: OrdersDb | None, sql: str, **options: Any) -> SourceError:
    with pytest.raises(SourceError) as info:
        fetch(db, sql, **options)
    return info.value


def _create_orders(url: str, table: str, *, sqlite: bool) -> None:
    ts_type = "TEXT" if sqlite else "TIMESTAMP"
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, amount NUMERIC(12, 2), "
                f"status TEXT, created_at {ts_type})"
            )
        )
        for row in ROWS:
            conn.execute(
                text(f"INSERT INTO {table} VALUES (:id, :amount, :status, :created_at)"),
                dict(zip(("id", "amount", "status", "created_at"), row, strict=True)),
            )
        if not sqlite:
            # Shows that even a function the role may call cannot write.
            conn.execute(
                text(
                    f"CREATE FUNCTION {table}_write() RETURNS int LANGUAGE plpgsql AS $$ "
                    f"BEGIN INSERT INTO {table} VALUES (99, 1, 'x', now()); RETURN 1; END $$"
                )
            )
    engine.dispose()


@pytest.fixture
def sqlite_orders(tmp_path: Path) -> Iterator[OrdersDb]:
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    # The way Tocsin and most services run SQLite; read-only opening must cope with it.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    _create_orders(f"sqlite:///{path}", "src_test_orders", sqlite=True)
    yield OrdersDb("sqlite", f"sqlite:///{path}", "src_test_orders")
    dispose_engines()


@pytest.fixture
def pg_orders(pg_url: str) -> Iterator[OrdersDb]:
    # Other tests truncate Tocsin's own tables; this one is ours alone, and dropped after.
    table = f"src_test_orders_{uuid.uuid4().hex[:8]}"
    _create_orders(pg_url, table, sqlite=False)
    # Supabase hands out postgres:// URLs: accept them as given.
    dsn = pg_url.replace("postgresql+psycopg://", "postgres://", 1)
    yield OrdersDb("postgresql", dsn, table)
    dispose_engines()
    engine = create_engine(normalize_url(pg_url))
    with engine.begin() as conn:
        conn.execute(text(f"DROP FUNCTION IF EXISTS {table}_write()"))
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def orders(request: pytest.FixtureRequest) -> OrdersDb:
    db: OrdersDb = request.getfixturevalue(
        f"{'pg' if request.param == 'postgresql' else 'sqlite'}_orders"
    )
    return db


def test_result_is_a_table(orders: OrdersDb) -> None:
    result = fetch(orders, f"SELECT id, amount, status FROM {orders.table} ORDER BY id")
    assert result == {
        "columns": ["id", "amount", "status"],
        "rows": [[1, 12.5, "open"], [2, 0.1, "open"], [3, 7, "closed"], [4, 1.25, "open"]],
    }


def test_selector_reads_an_aggregate(orders: OrdersDb) -> None:
    result = fetch(
        orders, f"SELECT count(*) AS open_orders FROM {orders.table} WHERE status = 'open'"
    )
    assert result == {"columns": ["open_orders"], "rows": [[3]]}
    extracted = extract_value(result, ValueSelector(column="open_orders"))
    assert extracted.value == Decimal(3)


def test_percent_and_colons_are_literal(orders: OrdersDb) -> None:
    result = fetch(
        orders,
        f"SELECT count(*) AS n, 'a%:b' AS s FROM {orders.table} WHERE status LIKE 'o%'",
    )
    assert result == {"columns": ["n", "s"], "rows": [[3, "a%:b"]]}


def test_row_limit_marks_truncation(orders: OrdersDb) -> None:
    query = f"SELECT id FROM {orders.table} ORDER BY id"
    assert fetch(orders, query, max_rows=2) == {
        "columns": ["id"],
        "rows": [[1], [2]],
        "truncated": True,
    }
    assert fetch(orders, query, max_rows=4) == {"columns": ["id"], "rows": [[1], [2], [3], [4]]}


def test_empty_result_is_no_data(orders: OrdersDb) -> None:
    result = fetch(orders, f"SELECT id FROM {orders.table} WHERE id < 0")
    assert result == {"columns": ["id"], "rows": []}
    assert extract_value(result).status == "no_data"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO {t} (id, amount, status) VALUES (50, 1, 'x')",
        "UPDATE {t} SET status = 'gone'",
        "DELETE FROM {t}",
        "CREATE TABLE {t}_extra (a INTEGER)",
        "DROP TABLE {t}",
        "COMMIT; DELETE FROM {t}",
    ],
)
def test_writes_are_refused(orders: OrdersDb, statement: str) -> None:
    error = fetch_error(orders, statement.format(t=orders.table))
    assert not error.timed_out
    assert fetch(orders, f"SELECT count(*) FROM {orders.table} WHERE status = 'open'") == {
        "columns": ["count" if orders.engine == "postgresql" else "count(*)"],
        "rows": [[3]],
    }
    assert orders.count() == len(ROWS)


def test_sqlite_writes_fail_because_the_file_is_read_only(sqlite_orders: OrdersDb) -> None:
    error = fetch_error(sqlite_orders, f"DELETE FROM {sqlite_orders.table}")
    assert "readonly database" in error.message


def test_sqlite_cannot_attach_other_files(sqlite_orders: OrdersDb, tmp_path: Path) -> None:
    error = fetch_error(sqlite_orders, f"ATTACH DATABASE '{tmp_path / 'other.db'}' AS other")
    assert "not authorized" in error.message
    assert not (tmp_path / "other.db").exists()


def test_postgres_transaction_is_read_only(pg_orders: OrdersDb) -> None:
    error = fetch_error(pg_orders, f"SELECT {pg_orders.table}_write()")
    assert "read-only transaction" in error.message
    assert pg_orders.count() == len(ROWS)


def test_postgres_only_one_query(pg_orders: OrdersDb) -> None:
    error = fetch_error(pg_orders, f"DELETE FROM {pg_orders.table}")
    assert error.message.startswith("only one read-only query")
    # The user's query is quoted, not our cursor wrapper.
    assert "DECLARE" not in error.message


def test_postgres_values_stay_exact(pg_orders: OrdersDb) -> None:
    result = fetch(
        pg_orders,
        "SELECT 12345678901234567890.123456789::numeric AS big, 1.50::numeric AS money, "
        "'NaN'::float8 AS nan, TIMESTAMP '2025-01-02 03:04:05' AS at, "
        "interval '90 minutes' AS lag, ARRAY[1, 2] AS arr, '{\"a\": 1.5}'::jsonb AS doc, "
        "'00000000-0000-0000-0000-000000000001'::uuid AS id, NULL AS nothing",
    )
    assert result == {
        "columns": ["big", "money", "nan", "at", "lag", "arr", "doc", "id", "nothing"],
        "rows": [
            [
                "12345678901234567890.123456789",
                1.5,
                "nan",
                "2025-01-02T03:04:05",
                5400,
                [1, 2],
                {"a": 1.5},
                "00000000-0000-0000-0000-000000000001",
                None,
            ]
        ],
    }
    assert extract_value(result, ValueSelector(column="big")).value == Decimal(
        "12345678901234567890.123456789"
    )


def test_postgres_timeout(pg_orders: OrdersDb) -> None:
    started = time.monotonic()
    error = fetch_error(pg_orders, "SELECT pg_sleep(5)", timeout_seconds=0.5)
    assert time.monotonic() - started < 3
    assert error.timed_out
    assert error.message == "query timed out after 0.5s"
    # The pooled connection is usable afterwards.
    assert fetch(pg_orders, "SELECT 1 AS one") == {"columns": ["one"], "rows": [[1]]}


RUNAWAY = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"


def test_sqlite_timeout(sqlite_orders: OrdersDb) -> None:
    started = time.monotonic()
    error = fetch_error(sqlite_orders, RUNAWAY, timeout_seconds=0.5)
    assert time.monotonic() - started < 3
    assert error.timed_out
    assert error.message == "query timed out after 0.5s"
    assert fetch(sqlite_orders, "SELECT 1 AS one") == {"columns": ["one"], "rows": [[1]]}


def test_sqlite_reads_while_a_writer_holds_the_file(sqlite_orders: OrdersDb) -> None:
    path = sqlite_orders.dsn.removeprefix("sqlite:///")
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(f"INSERT INTO {sqlite_orders.table} (id) VALUES (100)")
        result = fetch(sqlite_orders, f"SELECT count(*) AS n FROM {sqlite_orders.table}")
        assert result == {"columns": ["n"], "rows": [[len(ROWS)]]}
        writer.execute("COMMIT")
    finally:
        writer.close()


def test_missing_env_var_names_the_variable() -> None:
    error = fetch_error(None, "SELECT 1", environ={})
    assert error.message == "environment variable ORDERS_DB (used in source.dsn_env) is not set"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("not a url at all hunter2", "ORDERS_DB does not hold a usable database URL"),
        ("mysql://root:hunter2@db/shop", "unsupported database 'mysql'"),
        ("sqlite://", "expected a SQLite file URL"),
    ],
)
def test_bad_urls_never_echo_the_value(dsn: str, expected: str) -> None:
    error = fetch_error(None, "SELECT 1", environ={"ORDERS_DB": dsn})
    assert expected in error.message
    assert "hunter2" not in str(error)


def test_connection_errors_hide_the_dsn() -> None:
    dsn = "postgresql://tocsin:hunter2-secret@127.0.0.1:1/shop"
    error = fetch_error(None, "SELECT 1", environ={"ORDERS_DB": dsn}, timeout_seconds=5)
    assert error.message.startswith("could not connect to the database")
    assert "hunter2" not in str(error) and dsn not in str(error)
    dispose_engines()


def test_missing_sqlite_file(tmp_path: Path) -> None:
    error = fetch_error(
        None, "SELECT 1", environ={"ORDERS_DB": f"sqlite:///{tmp_path / 'nope.db'}"}
    )
    assert "could not open the SQLite database file" in error.message
    assert not (tmp_path / "nope.db").exists()


def test_query_errors_carry_the_database_message(orders: OrdersDb) -> None:
    error = fetch_error(orders, "SELECT nope FROM nowhere_table")
    assert "nowhere_table" in error.message
    assert orders.dsn not in error.message
