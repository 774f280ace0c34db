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
from typing import Any

from psycopg.rows import dict_row
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import Compiled, SQLCompiler

from tocsin.db.codec import PG_CONVERTED, Convert, from_postgres, same, to_postgres
from tocsin.db.liveness import idle_checked_pool

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class CompiledStatement:
    sql: str
    compiled: Compiled
    # The parameters whose type converts its values (``db/codec.py``), and how.
    converters: dict[str, Convert]

    def params(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every parameter the SQL names: ``values`` as their column types store them,
        plus the statement's own literals."""
        given = dict(self.compiled.construct_params(values) or {})
        for name, convert in self.converters.items():
            if name in values:
                given[name] = convert(given[name])
        return given


def compiled(statement: ClauseElement) -> CompiledStatement:
    done = statement.compile(dialect=_DIALECT)
    assert isinstance(done, SQLCompiler)
    converters = {}
    for name, bind in done.binds.items():
        # Only our column types convert; any other (a JSON path's index, a literal's)
        # is a plain value psycopg adapts itself.
        convert = to_postgres(bind.type) if isinstance(bind.type, PG_CONVERTED) else same
        if convert is not same:
            converters[name] = convert
    return CompiledStatement(done.string, done, converters)


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
        """Run ``statement`` in a transaction of its own; its first row as a dict, as the
        typed columns hand it out (``codec.from_postgres``)."""
        conn = self._held.get()
        if conn is None:
            async with self._pool.connection() as conn:
                row = await self._fetch_one(conn, statement, values)
        else:
            row = await self._fetch_one(conn, statement, values)
        return None if row is None else from_postgres(row)

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
