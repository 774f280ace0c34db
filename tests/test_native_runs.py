"""A worker's runs go through psycopg's async driver on the event loop (its run store's
native pool);
they record exactly what the thread path through SQLAlchemy records."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import NoResultFound

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.native import open_native_pool
from tocsin.execution import scheduler
from tocsin.execution.job_queue import libpq_conninfo
from tocsin.execution.pg_runs import PostgresRunStore
from tocsin.execution.tasks import RunOutcome, run_and_evaluate
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.metrics.sources.base import SourceConfig
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def _metric(db: Database, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    with db.begin() as conn:
        org = get_or_create_org(conn, "acme")
        metric = MetricStore(conn, org).create(
            {"name": name, "source": {"type": "demo"}, "schedule": {"every_seconds": 3600}}
        )
    return org, metric.id


def _run(
    db: Database, metric_id: uuid.UUID, *, native: bool, conninfo_suffix: str = ""
) -> RunOutcome:
    settings = Settings(database_url=db.url)

    async def go() -> RunOutcome:
        async with HttpClient(settings) as http:
            if not native:
                return await run_and_evaluate(db, settings, http, metric_id, scheduled_for=None)
            conninfo = libpq_conninfo(db.url) + conninfo_suffix
            async with open_native_pool(conninfo, max_size=2) as pool:
                runs = PostgresRunStore(db, settings, pool)
                async with runs.held():
                    return await run_and_evaluate(
                        db, settings, http, metric_id, scheduled_for=None, runs=runs
                    )

    return asyncio.run(go())


def _stored(db: Database, org: uuid.UUID, metric_id: uuid.UUID) -> list[Execution]:
    with db.connect() as conn:
        return MetricStore(conn, org).executions(metric_id)


def _result_json_type(db: Database, execution_id: uuid.UUID) -> str:
    with db.connect() as conn:
        found: str = conn.execute(
            text("SELECT jsonb_typeof(result) FROM metric_executions WHERE id = :id"),
            {"id": execution_id},
        ).scalar_one()
    return found


def test_a_native_run_records_what_the_thread_path_records(pg_db: Database) -> None:
    org, native_metric = _metric(pg_db, "native")
    _, thread_metric = _metric(pg_db, "thread")
    by_native = _run(pg_db, native_metric, native=True).execution
    by_thread = _run(pg_db, thread_metric, native=False).execution
    (stored,) = _stored(pg_db, org, native_metric)
    # What the run handed back is what a reader finds: same values, UTC times.
    assert by_native == stored
    assert stored.started_at.utcoffset() is not None and stored.started_at.utcoffset() == (
        by_thread.started_at.utcoffset()
    )
    same = {"status", "trigger", "result", "value", "error"}
    assert by_native.model_dump(include=same) == by_thread.model_dump(include=same)
    assert stored.evaluated_at is not None and stored.value is not None


def test_a_failed_native_run_stores_json_null_like_the_thread_path(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Fails:
        async def fetch(self, ctx: Any) -> object:
            raise RuntimeError("source broke")

    monkeypatch.setattr(scheduler, "build_source", lambda config: Fails())
    org, native_metric = _metric(pg_db, "native")
    _, thread_metric = _metric(pg_db, "thread")
    by_native = _run(pg_db, native_metric, native=True).execution
    by_thread = _run(pg_db, thread_metric, native=False).execution
    assert by_native.status == by_thread.status == "failed"
    assert by_native.error == by_thread.error
    assert _result_json_type(pg_db, by_native.id) == _result_json_type(pg_db, by_thread.id)


def test_a_native_run_of_a_deleted_metric_finds_no_metric(pg_db: Database) -> None:
    with pytest.raises(NoResultFound):
        _run(pg_db, uuid.uuid4(), native=True)


def test_an_alert_created_during_a_native_run_evaluates_it(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, metric_id = _metric(pg_db, "native")

    def create_alert() -> None:
        with pg_db.begin() as conn:
            AlertStore(conn, org).create_alert(
                {
                    "metric_id": metric_id,
                    "name": "Created mid-run",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )

    def source(make: Callable[[], None]) -> Any:
        class CreatesAnAlert:
            config = SourceConfig(type="creates-an-alert")

            async def fetch(self, ctx: Any) -> object:
                await asyncio.to_thread(make)
                return 9

        return CreatesAnAlert()

    monkeypatch.setattr(scheduler, "build_source", lambda config: source(create_alert))
    outcome = _run(pg_db, metric_id, native=True)
    assert [e.decision.triggered for e in outcome.evaluation.evaluated] == [True]
    (stored,) = _stored(pg_db, org, metric_id)
    assert stored.evaluated_at is not None


def test_a_native_run_hands_back_utc_times_whatever_the_session_time_zone(
    pg_db: Database,
) -> None:
    org, metric_id = _metric(pg_db, "native")
    outcome = _run(
        pg_db, metric_id, native=True, conninfo_suffix="?options=-c%20timezone%3DAsia/Kolkata"
    )
    execution = outcome.execution
    assert execution.started_at.utcoffset() == timedelta(0)
    assert execution.completed_at is not None and execution.completed_at.utcoffset() == timedelta(0)
    (stored,) = _stored(pg_db, org, metric_id)
    assert stored.started_at == execution.started_at


def test_statements_inside_held_share_one_connection(pg_db: Database) -> None:
    from sqlalchemy import func, select

    from tocsin.db.native import compiled

    backend = compiled(select(func.pg_backend_pid().label("pid")))

    async def go() -> tuple[set[int], set[int]]:
        async with open_native_pool(libpq_conninfo(pg_db.url), max_size=4) as pool:

            async def pids(n: int) -> set[int]:
                found = set()
                for _ in range(n):
                    row = await pool.fetch_one(backend, {})
                    assert row is not None
                    found.add(row["pid"])
                    await asyncio.sleep(0)
                return found

            async def held_pids() -> set[int]:
                async with pool.held(), pool.held():  # nested: still the same one
                    return await pids(5)

            # Other tasks take connections meanwhile, so an unheld task gets several.
            busy = [asyncio.create_task(pids(20)) for _ in range(3)]
            held = await held_pids()
            await asyncio.gather(*busy)
            return held, set().union(*(t.result() for t in busy))

    held, spread = asyncio.run(go())
    assert len(held) == 1
    assert len(spread) > 1
