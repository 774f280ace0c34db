"""The dead-man switch through real ``tocsin worker`` processes on PostgreSQL: two workers
run the silence task side by side, and each period of silence is recorded once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from tests.runtime_pg.pg_runtime_support import (
    WorkerProcess,
    create_alert,
    create_metric,
    executions,
    org,
    queue_db,
    spawn_worker,
    wait_for,
)

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.runs import RunReport, run_now
from tocsin.http import HttpClient
from tocsin.settings import Settings

__all__ = ["queue_db", "spawn_worker"]  # fixtures, used by name

SETTINGS = Settings(allow_private_networks=True)


def test_two_workers_record_each_silent_period_once_and_a_late_value_as_usual(
    queue_db: Database, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    acme = org(queue_db)
    workers = [spawn_worker(concurrency=4), spawn_worker(concurrency=4)]
    metric = create_metric(
        queue_db, acme, {"name": "Heartbeat", "source": {"type": "push"}, "expect_every_seconds": 3}
    )
    alert = create_alert(queue_db, acme, metric, {"type": "log"})

    def missing() -> list[Any]:
        return [r for r in executions(queue_db, metric) if r.status == "missing"]

    runs = wait_for(lambda: len(missing()) >= 3 and missing(), 40, "three missing runs")

    periods = [r.scheduled_for for r in runs]
    assert len(periods) == len(set(periods)), "a period was recorded twice"
    assert all(b - a == timedelta(seconds=3) for a, b in zip(periods, periods[1:], strict=False))
    assert all(r.error == "no value received for 3s" and r.trigger == "schedule" for r in runs)
    with queue_db.connect() as conn:
        store = AlertStore(conn, acme)
        assert store.get_alert(alert).state == "no_data"
        assert "no value received for 3s" in store.history(alert, limit=1)[0].reason

    async def push() -> RunReport:
        async with HttpClient(SETTINGS) as http:
            return await run_now(
                queue_db, acme, metric, settings=SETTINGS, http=http, value=7, has_value=True
            )

    def next_due() -> datetime:
        with queue_db.connect() as conn:
            found: datetime = conn.execute(
                select(metrics.c.missing_due_at).where(metrics.c.id == metric)
            ).scalar_one()
            return found

    # The value comes well inside a period (a worker slow to record the last missing
    # run could leave too little of it), so no pass can read the silence before it.
    while (due := next_due()) - datetime.now(UTC) < timedelta(seconds=1.5):
        seen = len(missing())
        wait_for(lambda: len(missing()) > seen, 10, "the next missing run")  # noqa: B023
    before = len(missing())
    report = asyncio.run(push())
    assert report.execution.status == "completed"
    assert [h.state_to for h in report.evaluations] == ["triggered"]
    # The value counted: no run for the period that was due, and the next one is a
    # period and its grace after the value.
    later = wait_for(lambda: missing()[before:], 15, "the missing run after the value")
    assert report.execution.completed_at is not None
    assert later[0].scheduled_for == report.execution.completed_at + timedelta(seconds=3.3)
    assert due not in {r.scheduled_for for r in missing()}
    for worker in workers:
        assert worker.stop() == 0, worker.text()
    # Which worker recorded what: each logs the missing runs it recorded, none twice.
    logged = [re.findall(r"missing run (\S+):", w.text()) for w in workers]
    recorded = [str(r.id) for r in missing()]
    assert sorted(logged[0] + logged[1]) == sorted(recorded)
