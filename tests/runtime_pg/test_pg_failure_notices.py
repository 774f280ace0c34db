"""Failure notices through a real ``tocsin worker`` on PostgreSQL (issue 17): a push
metric gone quiet sends one alert.no_data webhook to a real local server, then
alert.recovered after a push; an HTTP source answering 500 sends one alert.error after
``pending_evaluations`` runs. Given / when / then."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.channels.channel_support import Recorded, Reply, Sink
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

from tocsin.db.database import Database
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.settings import Settings

__all__ = ["queue_db", "spawn_worker"]  # fixtures, used by name

SETTINGS = Settings(allow_private_networks=True)


def _events(sink: Sink) -> list[dict[str, Any]]:
    return [r.json() for r in sink.requests if r.path == "/hook"]


def test_a_quiet_push_metric_is_told_once_and_its_recovery(
    queue_db: Database, sink: Sink, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    # Given a push metric expecting a value every 3 s, with a webhook alert, and a worker
    acme = org(queue_db)
    metric = create_metric(
        queue_db, acme, {"name": "Heartbeat", "source": {"type": "push"}, "expect_every_seconds": 3}
    )
    create_alert(queue_db, acme, metric, {"type": "webhook", "url": f"{sink.url}/hook"})
    worker = spawn_worker()

    # When nothing arrives for two periods
    wait_for(
        lambda: [r.status for r in executions(queue_db, metric)].count("missing") >= 2,
        40,
        "two missing runs",
    )
    # Then one alert.no_data arrived
    (quiet,) = wait_for(lambda: _events(sink), 10, "the no-data webhook")
    assert quiet["event"] == "alert.no_data"
    assert quiet["reason"].startswith("no value received for 3s")

    # When a value is pushed, one alert.recovered follows
    async def push() -> None:
        async with HttpClient(SETTINGS) as http:
            await run_now(queue_db, acme, metric, settings=SETTINGS, http=http, value=2,
                          has_value=True)  # fmt: skip

    asyncio.run(push())
    wait_for(lambda: len(_events(sink)) == 2, 10, "the recovered webhook")
    assert [e["event"] for e in _events(sink)] == ["alert.no_data", "alert.recovered"]
    assert worker.stop() == 0, worker.text()


def test_an_http_source_answering_500_is_told_once_after_pending_runs(
    queue_db: Database, sink: Sink, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    def answer(rec: Recorded) -> Reply:
        return Reply(500, "upstream down") if rec.path == "/stats" else Reply()

    sink.default = answer
    acme = org(queue_db)
    metric = create_metric(
        queue_db,
        acme,
        {
            "name": "Signups",
            "source": {"type": "http", "url": f"{sink.url}/stats"},
            "selector": {"json_path": "$.n"},
            "schedule": {"every_seconds": 1},
        },
    )
    create_alert(
        queue_db, acme, metric, {"type": "webhook", "url": f"{sink.url}/hook"},
        pending_evaluations=3,
    )  # fmt: skip
    worker = spawn_worker()

    failed = wait_for(
        lambda: len([r for r in executions(queue_db, metric) if r.status == "failed"]) >= 5,
        40,
        "five failed runs",
    )
    assert failed
    (error,) = wait_for(lambda: _events(sink), 10, "the error webhook")
    assert error["event"] == "alert.error" and "500" in error["reason"]
    runs = [r for r in executions(queue_db, metric) if r.status == "failed"]
    # Sent on the third failing run, not before
    assert runs[2].completed_at.isoformat() == error["evaluated_at"]
    assert worker.stop() == 0, worker.text()
