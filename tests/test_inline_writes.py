"""Short writes from async code run on the event loop only when nothing has to wait."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select, text

from tocsin.alerts import delivery
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database, WouldWait, runs_inline
from tocsin.db.schema import alert_history, metric_executions, notification_deliveries
from tocsin.execution import runs
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings


def _where(conn: Connection) -> str:
    return "loop" if runs_inline(conn) else threading.current_thread().name


def test_a_free_sqlite_database_is_written_on_the_event_loop(db: Database) -> None:
    where = asyncio.run(db.write(_where))
    # PostgreSQL's round trips always belong in a worker thread.
    assert (where == "loop") is db.is_sqlite


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_another_process_writing_sends_the_work_to_a_thread(db: Database, db_url: str) -> None:
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(WouldWait):  # at once, not after the busy timeout
        db.begin_no_wait().__enter__()

    async def main() -> str:
        # The thread waits in SQLite's busy handler until the other writer commits.
        asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        return await db.write(_where)

    assert asyncio.run(main()) != "loop"
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    other.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_another_thread_writing_sends_the_work_to_a_thread(db: Database) -> None:
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.begin():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    holding.wait(10)

    async def main() -> str:
        asyncio.get_running_loop().call_later(0.2, release.set)
        return await db.write(_where)

    assert asyncio.run(main()) != "loop"
    thread.join(10)


def test_work_that_turns_out_long_is_rolled_back_and_redone_in_a_thread(
    db: Database, tmp_path: Path
) -> None:
    calls: list[str] = []

    def work(conn: Connection) -> int:
        calls.append(_where(conn))
        conn.execute(text("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)"))
        conn.execute(text("INSERT INTO scratch VALUES (1)"))
        if runs_inline(conn):
            raise WouldWait("too long for the event loop")
        return int(conn.execute(text("SELECT count(*) FROM scratch")).scalar_one())

    assert asyncio.run(db.write(work)) == 1  # the inline attempt's row was rolled back
    assert calls[-1] != "loop" and len(calls) == (2 if db.is_sqlite else 1)
    with db.begin() as conn:
        conn.execute(text("DROP TABLE scratch"))


@contextmanager
def sql_on_this_thread(db: Database) -> Iterator[list[tuple[bool, str]]]:
    """Every statement SQLite runs meanwhile, and whether it ran on the calling thread
    (where ``asyncio.run`` runs the event loop). SQLite's own trace hook, so the raw
    cursors of the bulk writes are seen too."""
    caller = threading.get_ident()
    seen: list[tuple[bool, str]] = []

    def trace(sql: str) -> None:
        seen.append((threading.get_ident() == caller, sql))

    def checkout(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_trace_callback(trace)

    def checkin(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.set_trace_callback(None)

    event.listen(db.engine, "checkout", checkout)
    event.listen(db.engine, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(db.engine, "checkout", checkout)
        event.remove(db.engine, "checkin", checkin)


def _where_ran(seen: list[tuple[bool, str]], prefix: str) -> set[str]:
    return {"loop" if on_loop else "thread" for on_loop, sql in seen if sql.startswith(prefix)}


@pytest.mark.parametrize(("limit", "where"), [(1, "thread"), (2, "loop")])
def test_a_push_to_many_alerts_is_evaluated_in_a_thread(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch, limit: int, where: str
) -> None:
    # Two alerts, two deliveries: over the limits of 1, within the limits of 2.
    monkeypatch.setattr(runs, "INLINE_ALERTS", limit)
    monkeypatch.setattr(delivery, "INLINE_OUTCOMES", limit)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        for name in ("a", "b"):
            AlertStore(conn, org_id).create_alert(
                {
                    "metric_id": metric.id,
                    "name": name,
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
    settings = Settings(database_url=db.url)

    async def push() -> runs.RunReport:
        async with HttpClient(settings) as http:
            return await run_now(
                db, org_id, metric.id, settings=settings, http=http, value=6, has_value=True
            )

    if db.is_sqlite:
        with sql_on_this_thread(db) as seen:
            report = asyncio.run(push())
        # The evaluation (its history rows) and the delivery outcomes ran where the
        # limits send them; the event loop never wrote them when over the limit.
        assert _where_ran(seen, "INSERT INTO alert_history") == {where}
        assert _where_ran(seen, f"UPDATE {notification_deliveries.name}") == {where}
    else:
        # PostgreSQL never writes on the event loop, whatever the limits say.
        report = asyncio.run(push())
    assert len(report.evaluations) == 2 and len(report.deliveries) == 2
    assert {d.status for d in report.deliveries} == {"sent"}
    with db.connect() as conn:
        # The abandoned inline attempt left nothing behind: one execution, two evaluations.
        assert conn.execute(select(func.count()).select_from(metric_executions)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(alert_history)).scalar() == 2


def test_a_pushed_value_is_stored_evaluated(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
    settings = Settings(database_url=db.url)

    async def push() -> runs.RunReport:
        async with HttpClient(settings) as http:
            return await run_now(
                db, org_id, metric.id, settings=settings, http=http, value=6, has_value=True
            )

    report = asyncio.run(push())
    with db.connect() as conn:
        row = conn.execute(
            select(metric_executions).where(metric_executions.c.id == report.execution.id)
        ).one()
    # Recorded and evaluated in one transaction: the sweep has nothing left to do.
    assert row.evaluated_at is not None and row.value == 6
