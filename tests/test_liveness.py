"""Pooled PostgreSQL connections are pinged only after idling; one the server dropped
while idle is replaced without the caller noticing."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text

from tocsin.db import liveness
from tocsin.db.database import Database
from tocsin.execution.job_queue import libpq_conninfo


def _backend_pid(db: Database) -> int:
    with db.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return pid


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_connection_dropped_while_idle_is_replaced_on_checkout(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(pg_db)
    _terminate(pg_db.url, first)
    # Idle longer than the threshold: checked, found dead, replaced.
    monkeypatch.setattr(liveness, "IDLE_CHECK_SECONDS", 0.0)
    assert _backend_pid(pg_db) != first


def test_a_connection_used_a_moment_ago_is_not_pinged(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(pg_db)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(pg_db.engine, "before_cursor_execute", record)
    pings: list[object] = []
    real_ping = pg_db.engine.dialect.do_ping

    def counted_ping(dbapi_conn: Any) -> bool:
        pings.append(dbapi_conn)
        return real_ping(dbapi_conn)

    monkeypatch.setattr(pg_db.engine.dialect, "do_ping", counted_ping)
    assert _backend_pid(pg_db) == first
    assert pings == [] and statements == ["SELECT pg_backend_pid()"]
    monkeypatch.setattr(liveness, "IDLE_CHECK_SECONDS", 0.0)
    assert _backend_pid(pg_db) == first
    assert len(pings) == 1


def test_the_job_queue_pool_replaces_a_connection_dropped_while_idle(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> None:
        pool = liveness.idle_checked_pool(
            conninfo=libpq_conninfo(pg_db.url), min_size=1, max_size=1, open=False
        )
        async with pool:
            async with pool.connection() as conn:
                first = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]
            await asyncio.to_thread(_terminate, pg_db.url, first)
            monkeypatch.setattr(liveness, "IDLE_CHECK_SECONDS", 0.0)
            async with pool.connection() as conn:
                second = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]
            assert second != first

    asyncio.run(go())
