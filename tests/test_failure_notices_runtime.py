"""Failure notices through the running embedded runtime (issue 17): nobody calls
anything; a source that breaks is told once, after ``pending_evaluations`` runs, to a real
local webhook, and its recovery once. Given / when / then."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.channels.channel_support import Recorded, Reply
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings


async def _run_for(runtime: EmbeddedRuntime, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


def _events(sink: Any) -> list[dict[str, Any]]:
    return [r.json() for r in sink.requests if r.path == "/hook"]


def test_an_http_source_answering_500_is_told_once_then_its_recovery(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    # Given an HTTP metric run every second whose endpoint answers 500, and an alert that
    # waits for two runs in a row
    broken = {"now": True}

    def answer(rec: Recorded) -> Reply:
        if rec.path == "/stats":
            return Reply(500, "upstream down") if broken["now"] else Reply(200, {"n": 3})
        return Reply()

    sink.default = answer
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Signups",
                "source": {"type": "http", "url": f"{sink.url}/stats"},
                "selector": {"json_path": "$.n"},
                "schedule": {"every_seconds": 1},
            }
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Signups > 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                "pending_evaluations": 2,
                "action_config": {"type": "webhook", "url": f"{sink.url}/hook"},
            }
        )
    runtime = EmbeddedRuntime(db, Settings(allow_private_networks=True), tick_seconds=0.2)

    # When it runs for a few failing runs
    asyncio.run(_run_for(runtime, 3.5))

    # Then exactly one alert.error arrived, on the second failing run, with the source's words
    (error,) = _events(sink)
    assert error["event"] == "alert.error" and error["value"] is None
    assert "500" in error["reason"] and error["state"] == "error"
    with db.connect() as conn:
        rows = list(reversed(AlertStore(conn, org_id).history(alert.id)))
    assert len(rows) >= 3 and all(r.state_to == "error" for r in rows)
    assert [r.notified for r in rows[:3]] == [False, True, False]

    # When the endpoint answers again
    broken["now"] = False
    asyncio.run(_run_for(runtime, 2.5))

    # Then one alert.recovered followed, and nothing else
    assert [e["event"] for e in _events(sink)] == ["alert.error", "alert.recovered"]
    recovered = _events(sink)[1]
    assert recovered["value"] == 3 and recovered["state"] == "ok"
    assert recovered["reason"].startswith("readable again after error: 3 <= 5")


def test_a_push_metric_gone_quiet_is_told_once_then_its_recovery(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    # Given a push metric that expects a value every 3 s, and an alert with a webhook
    settings = Settings(allow_private_networks=True)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Heartbeat", "source": {"type": "push"}, "expect_every_seconds": 3}
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Heartbeat > 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "webhook", "url": f"{sink.url}/hook"},
            }
        )
    runtime = EmbeddedRuntime(db, settings, tick_seconds=0.2)

    # When nothing is pushed for two periods and more
    asyncio.run(_run_for(runtime, 7.5))

    # Then two missing runs were recorded and one alert.no_data arrived, saying why
    with db.connect() as conn:
        runs = MetricStore(conn, org_id).executions(metric.id)
    assert [r.status for r in runs].count("missing") == 2
    (quiet,) = _events(sink)
    assert quiet["event"] == "alert.no_data" and quiet["state"] == "no_data"
    assert quiet["reason"].startswith("no value received for 3s")

    # When a value is pushed
    async def push() -> None:
        async with HttpClient(settings) as http:
            await run_now(
                db, org_id, metric.id, settings=settings, http=http, value=2, has_value=True
            )

    asyncio.run(push())

    # Then one alert.recovered followed
    assert [e["event"] for e in _events(sink)] == ["alert.no_data", "alert.recovered"]
    assert _events(sink)[1]["value"] == 2
