"""Statements on PostgreSQL straight through psycopg's async driver, on the event loop.

A worker's hot path, two statements per scheduled run, costs less this way than through
SQLAlchemy in a worker thread: no thread hop and no SQLAlchemy execution machinery. The
statements are still written with SQLAlchemy Core and compiled once for PostgreSQL
(:func:`compiled`), so there is one definition of each.

A :class:`NativePool` belongs to one event loop: a long-lived runtime (the worker) opens
it and hands it to its run store (``execution/pg_runs.py``) for its lifetime; a store
without one takes the thread path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import Compiled

from tocsin.db.liveness import idle_checked_pool

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class CompiledStatement:
    sql: str
    compiled: Compiled

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every parameter the SQL names: ``values`` plus the statement's own literals."""
        return dict(self.compiled.construct_params(values) or {})


def compiled(statement: ClauseElement) -> CompiledStatement:
    done = statement.compile(dialect=_DIALECT)
    return CompiledStatement(done.string, done)


class NativePool:
    def __init__(self, pool: Any) -> None:
        self._pool = pool
        # The connection the current task holds (``held``), if any.
        self._held: ContextVar[Any] = ContextVar(f"native_held_{id(self)}", default=None)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Every ``fetch_one`` of the current task, inside this block, on one connection:
        a run's statements take the pool's connection once, not once each (taking and
        returning one cost a worker more than building the statements did)."""
        if self._held.get() is not None:
            yield
            return
        async with self._pool.connection() as conn:
            token = self._held.set(conn)
            try:
                yield
            finally:
                self._held.reset(token)

    async def fetch_one(
        self, statement: CompiledStatement, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Run ``statement`` in a transaction of its own; its first row as a dict, with
        times in UTC as the UTCDateTime columns hand them out (the session's time zone
        is left alone: a transaction pooler would not keep it)."""
        conn = self._held.get()
        if conn is None:
            async with self._pool.connection() as conn:
                row = await self._fetch_one(conn, statement, values)
        else:
            row = await self._fetch_one(conn, statement, values)
        if row is not None:
            for key, value in row.items():
                if isinstance(value, datetime):
                    row[key] = value.astimezone(UTC)
        return row

    @staticmethod
    async def _fetch_one(
        conn: Any, statement: CompiledStatement, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        cursor = await conn.execute(statement.sql, statement.params(values))
        row: dict[str, Any] | None = await cursor.fetchone()
        return row


@asynccontextmanager
async def open_native_pool(
    conninfo: str, *, max_size: int, pooler_safe: bool = False
) -> AsyncIterator[NativePool]:
    """``pooler_safe``: no prepared statements, which a transaction-mode pooler
    (Supabase on port 6543) cannot keep."""

    async def configure(conn: Any) -> None:
        # Autocommit: each statement is its own transaction, no BEGIN/COMMIT round trips.
        await conn.set_autocommit(True)
        conn.row_factory = dict_row

    pool = idle_checked_pool(
        conninfo=conninfo,
        min_size=1,
        max_size=max_size,
        open=False,
        configure=configure,
        kwargs={"prepare_threshold": None} if pooler_safe else {},
    )
    await pool.open()
    try:
        yield NativePool(pool)
    finally:
        await pool.close()
