"""The dead-man switch in the running embedded runtime (what ``tocsin serve`` runs), on
SQLite and PostgreSQL: nobody calls the silence pass; missing runs appear once per
period, their alerts go to no data, and a value that comes back is evaluated as usual."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from tests.channels.channel_support import Reply, Sink
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

SETTINGS = Settings(allow_private_networks=True)


def _runs(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, status: str) -> list[Execution]:
    with db.connect() as conn:
        found = MetricStore(conn, org_id).executions(metric_id)
    return sorted((e for e in found if e.status == status), key=lambda e: e.started_at)


async def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(0.1)
    return found


def _alert(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID) -> uuid.UUID:
    with db.begin() as conn:
        return (
            AlertStore(conn, org_id)
            .create_alert(
                {
                    "metric_id": metric_id,
                    "name": "Notify if Issues > 5",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
            .id
        )


def test_a_silent_push_metric_gets_missing_runs_once_per_period_until_a_value_comes(
    db: Database, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Heartbeat", "source": {"type": "push"}, "expect_every_seconds": 3}
        )
    alert = _alert(db, org_id, metric.id)
    runtime = EmbeddedRuntime(db, SETTINGS, tick_seconds=0.2)

    async def scenario() -> tuple[list[Execution], Execution, list[Execution]]:
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        try:
            missing = await _until(
                lambda: (m := _runs(db, org_id, metric.id, "missing")) and len(m) >= 2 and m,
                15,
                "two missing runs",
            )
            async with HttpClient(SETTINGS) as http:
                report = await run_now(
                    db, org_id, metric.id, settings=SETTINGS, http=http, value=7, has_value=True
                )
            after = await _until(
                lambda: _runs(db, org_id, metric.id, "missing")[len(missing) :],
                10,
                "the missing run after the value",
            )
            return missing, report.execution, after
        finally:
            stop.set()
            await task

    missing, pushed, after = asyncio.run(scenario())

    first, second = missing[:2]
    assert all(m.error == "no value received for 3s" and m.trigger == "schedule" for m in missing)
    # One run per period, not per tick: the periods claimed are 3 s apart, and so
    # (within a tick) are the runs.
    assert first.scheduled_for is not None and second.scheduled_for is not None
    assert second.scheduled_for - first.scheduled_for == timedelta(seconds=3)
    assert first.completed_at is not None and second.completed_at is not None
    assert second.completed_at - first.completed_at > timedelta(seconds=2)
    with db.connect() as conn:
        history = list(reversed(AlertStore(conn, org_id).history(alert)))
    silent = [h for h in history if h.execution_id in {m.id for m in missing}]
    assert [h.state_to for h in silent][:2] == ["no_data", "no_data"]
    assert all("no value received for 3s" in h.reason for h in silent)
    # The late value: recorded and evaluated as any push. The period that was due when
    # it came gets no run; the next silence is counted from the value.
    assert pushed.status == "completed" and pushed.value == 7
    evaluated = {h.execution_id: h.state_to for h in history}
    assert evaluated[pushed.id] == "triggered"
    assert pushed.completed_at is not None and after[0].scheduled_for is not None
    assert after[0].scheduled_for == pushed.completed_at + timedelta(seconds=3.3)
    assert missing[-1].scheduled_for + timedelta(seconds=3) not in {m.scheduled_for for m in after}
    assert runtime.status.errors == 0


def test_a_scheduled_metric_whose_runs_stop_completing_gets_a_missing_run(
    db: Database, org_id: uuid.UUID, sink: Sink
) -> None:
    # The first run answers at once; every later one hangs well past the period.
    sink.reply(Reply(body={"count": 3}))
    sink.default = Reply(body={"count": 3}, delay=4)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Queue depth",
                "source": {"type": "http", "url": f"{sink.url}/depth", "timeout_seconds": 20},
                "selector": {"json_path": "$.count"},
                "schedule": {"every_seconds": 1},
                "expect_every_seconds": 1,
            }
        )
    alert = _alert(db, org_id, metric.id)
    runtime = EmbeddedRuntime(db, SETTINGS, tick_seconds=0.2, stop_grace_seconds=0.5)

    async def scenario() -> list[Execution]:
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        try:
            found: list[Execution] = await _until(
                lambda: _runs(db, org_id, metric.id, "missing"), 8, "a missing run"
            )
            return found
        finally:
            stop.set()
            await task

    missing = asyncio.run(scenario())

    completed = _runs(db, org_id, metric.id, "completed")
    assert len(completed) == 1 and completed[0].value == 3
    assert missing[0].error == "no value received for 1s"
    assert completed[0].completed_at is not None and missing[0].completed_at is not None
    assert missing[0].completed_at - completed[0].completed_at >= timedelta(seconds=1.1)
    with db.connect() as conn:
        assert AlertStore(conn, org_id).history(alert, limit=1)[0].execution_id == missing[0].id
