"""The attacker's test for failure notices (issue 17), on SQLite and PostgreSQL: a notice
carries the source's own error, but never the secrets the source was given (a token in
its URL or headers), even when the endpoint echoes them back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.channels.channel_support import Recorded, Reply
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution.runs import RunReport, run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

TOKEN = "tok_5ecr3t_9f8e7d"


def test_an_error_notice_blanks_the_sources_secrets(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    # Given an HTTP metric with a token in its query and its header, whose endpoint
    # answers 500 echoing what it was sent
    def echo(rec: Recorded) -> Reply:
        if rec.path == "/stats":
            return Reply(500, f"bad request {rec.query} {rec.headers.get('Authorization')}")
        return Reply()

    sink.default = echo
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Signups",
                "source": {
                    "type": "http",
                    "url": f"{sink.url}/stats?api_key={TOKEN}",
                    "headers": {"Authorization": f"Bearer {TOKEN}"},
                },
                "selector": {"json_path": "$.n"},
                "schedule": {"every_seconds": 3600},
            }
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Signups > 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "webhook", "url": f"{sink.url}/hook"},
            }
        )
    settings = Settings(allow_private_networks=True)

    async def go() -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(db, org_id, metric.id, settings=settings, http=http)

    # When it runs
    report = asyncio.run(go())

    # Then an error notice went out, saying what failed, without the token anywhere
    (delivery,) = report.deliveries
    assert delivery.kind == "error" and delivery.status == "sent"
    (hook,) = [r for r in sink.requests if r.path == "/hook"]
    assert hook.json()["event"] == "alert.error" and "500" in hook.json()["reason"]
    assert TOKEN not in hook.body.decode()
    assert TOKEN not in str(delivery.payload) and TOKEN not in report.evaluations[0].reason
