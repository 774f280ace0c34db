"""A ``tocsin worker`` keeps history's partitions ready, and prunes on the same cadence
as the embedded runtime (issue 16 item 7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from tests.runtime_pg.pg_runtime_support import WorkerProcess, queue_db, spawn_worker, wait_for

from tocsin.db import partitions
from tocsin.db.database import Database
from tocsin.execution.jobs import blueprint
from tocsin.execution.tasks import PRUNE_SECONDS

__all__ = ["queue_db", "spawn_worker"]  # fixtures, used by name


def test_a_starting_worker_makes_this_months_history_partition_ready(
    queue_db: Database, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    # Given a database without this month's partition (rows would land in the default)
    month = partitions.partition_name(partitions.month_of(datetime.now(UTC)))
    with queue_db.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {month}"))

    # When a worker starts
    worker = spawn_worker()

    # Then, before any prune comes due, the month's partition exists
    def ready() -> bool:
        with queue_db.connect() as conn:
            return month in partitions.existing(conn)

    wait_for(ready, 30, f"partition {month}")
    assert worker.stop() == 0, worker.text()


def test_the_workers_prune_on_the_embedded_runtimes_cadence() -> None:
    bp = blueprint()
    prune = bp.tasks["tocsin.prune"]
    (schedule,) = [p for p in bp.periodic_registry.periodic_tasks.values() if p.task is prune]
    assert schedule.cron == f"*/{PRUNE_SECONDS // 60} * * * *"
