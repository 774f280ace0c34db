"""The tick: claiming due slots and deferring their runs happen in one transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import pytest
from procrastinate.manager import JobManager
from sqlalchemy import select, text, update
from tests.runtime_pg.pg_runtime_support import create_metric, org, queue_db

from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution import distributed, upkeep
from tocsin.execution.claim_runs import claim_and_defer
from tocsin.execution.jobs import RUN_METRIC

__all__ = ["queue_db"]  # fixture, used by name


def _jobs(db: Database) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT task_name, lock, queueing_lock, args, status "
                    "FROM procrastinate_jobs ORDER BY id"
                )
            )
        )


def _make_due(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(update(metrics).values(next_run_at=datetime.now(UTC) - timedelta(seconds=1)))


def _next_runs(db: Database) -> dict[uuid.UUID, datetime]:
    with db.connect() as conn:
        return {
            r.id: r.next_run_at for r in conn.execute(select(metrics.c.id, metrics.c.next_run_at))
        }


@pytest.fixture
def tick_parts(queue_db: Database) -> tuple[Any, JobManager]:
    app = distributed.make_app(queue_db.url)
    return app.tasks[RUN_METRIC], JobManager(procrastinate.SyncPsycopgConnector())


def test_a_tick_defers_one_locked_run_per_due_slot(
    queue_db: Database, tick_parts: tuple[Any, JobManager]
) -> None:
    acme = org(queue_db)
    ids = [
        create_metric(
            queue_db,
            acme,
            {"name": f"m{i}", "source": {"type": "demo"}, "schedule": {"every_seconds": 60}},
        )
        for i in range(3)
    ]
    _make_due(queue_db)
    claimed, deferred = claim_and_defer(queue_db, *tick_parts)
    assert (claimed, deferred) == (3, 3)
    jobs = _jobs(queue_db)
    assert {j.args["metric_id"] for j in jobs} == {str(i) for i in ids}
    for job in jobs:
        assert job.task_name == RUN_METRIC
        assert job.lock == job.queueing_lock == f"metric:{job.args['metric_id']}"
    # Nothing is due any more: a second tick claims nothing.
    assert claim_and_defer(queue_db, *tick_parts) == (0, 0)


def test_a_metric_with_a_run_waiting_skips_the_slot(
    queue_db: Database, tick_parts: tuple[Any, JobManager]
) -> None:
    acme = org(queue_db)
    for i in range(2):
        create_metric(
            queue_db,
            acme,
            {"name": f"m{i}", "source": {"type": "demo"}, "schedule": {"every_seconds": 60}},
        )
    _make_due(queue_db)
    claim_and_defer(queue_db, *tick_parts)
    _make_due(queue_db)
    before = _next_runs(queue_db)
    claimed, deferred = claim_and_defer(queue_db, *tick_parts)
    # Both slots are claimed (next_run_at moves on) but no second run is queued.
    assert (claimed, deferred) == (2, 0)
    assert len(_jobs(queue_db)) == 2
    assert all(_next_runs(queue_db)[k] > v for k, v in before.items())


def test_a_failed_defer_leaves_the_slot_unclaimed(
    queue_db: Database, tick_parts: tuple[Any, JobManager], monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = org(queue_db)
    create_metric(
        queue_db, acme, {"name": "m", "source": {"type": "demo"}, "schedule": {"every_seconds": 60}}
    )
    _make_due(queue_db)
    before = _next_runs(queue_db)
    task, jobs = tick_parts

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the process dies here")

    monkeypatch.setattr(jobs, "batch_defer_jobs", broken)
    with pytest.raises(RuntimeError):
        claim_and_defer(queue_db, task, jobs)
    assert _next_runs(queue_db) == before
    assert _jobs(queue_db) == []


def _stats_reltuples(db: Database) -> float:
    with db.connect() as conn:
        found: float = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'procrastinate_jobs'::regclass")
        ).scalar_one()
    return found


def test_a_tick_that_outgrows_the_job_statistics_refreshes_them(
    queue_db: Database, tick_parts: tuple[Any, JobManager]
) -> None:
    """Statistics of a near-empty job table make every fetch scan all queued jobs; a
    tick deferring hundreds of runs at once refreshes them, a small one does not."""
    acme = org(queue_db)
    with queue_db.begin() as conn:
        conn.execute(text("ANALYZE procrastinate_jobs"))
    for i in range(300):
        create_metric(
            queue_db,
            acme,
            {"name": f"m{i}", "source": {"type": "demo"}, "schedule": {"every_seconds": 60}},
        )
    _make_due(queue_db)
    app = distributed.make_app(queue_db.url)

    async def check(deferred: int) -> bool:
        async with app.open_async():
            return await upkeep.analyse_queue_if_outgrown(app, deferred)

    assert claim_and_defer(queue_db, *tick_parts) == (300, 300)
    assert asyncio.run(check(300)) is True
    # Statistics now count the queued jobs: the same tick size needs no second ANALYZE.
    assert _stats_reltuples(queue_db) >= 250
    assert asyncio.run(check(300)) is False
    assert asyncio.run(check(20)) is False


def _vacuums(db: Database) -> int:
    with db.connect() as conn:
        count: int = conn.execute(
            text(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'procrastinate_jobs'"
            )
        ).scalar_one()
    return count


def test_the_tick_vacuums_the_job_table(queue_db: Database) -> None:
    """Finished (deleted) jobs leave dead rows that every fetch walks past until a
    VACUUM; the tick runs one every second instead of waiting for autovacuum."""
    before = _vacuums(queue_db)
    upkeep.vacuum_job_queue(queue_db)
    assert _vacuums(queue_db) == before + 1
