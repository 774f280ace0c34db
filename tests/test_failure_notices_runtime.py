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
