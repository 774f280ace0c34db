"""The seed's verification plan, end to end, through the CLI and the Python API.

Given the metric "Open Issues" and the alert "Notify if Issues > 5" with a signed
webhook to a real local server: 6 fires (one signed POST), 4 resolves (a resolve POST,
not a trigger), a fresh alert at 4 records a non-trigger and sends nothing, and 6 again
inside the cooldown is recorded as suppressed and sends nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

from .helpers import run_cli

SECRET = "whsec-seed-0123456789"
ENV = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}


def _verify_signature(request: Any) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tocsin-Signature"] == expected


def _webhook(sink: Any) -> str:
    return json.dumps({"type": "webhook", "url": f"{sink.url}/hook", "secret": SECRET})


def test_seed_plan_through_the_cli(db_url: str, sink: Any) -> None:
    def cli(*args: str) -> Any:
        result = run_cli(db_url, *args, env=ENV)
        assert result.exit_code == 0, result.stderr
        return result

    cli("metric", "create", "Open Issues", "--source", "push")
    cli(
        "alert",
        "create",
        "--metric",
        "Open Issues",
        "--name",
        "Notify if Issues > 5",
        "--when",
        "> 5",
        "--action",
        _webhook(sink),
    )

    # Run with 6: fires.
    fired = cli("metric", "run", "Open Issues", "--value", "6", "--json").json()
    assert fired["execution"]["status"] == "completed" and fired["execution"]["value"] == 6
    [evaluation] = fired["evaluations"]
    assert evaluation["triggered"] is True and evaluation["notified"] is True
    assert evaluation["state_to"] == "triggered" and evaluation["reason"].startswith("6 > 5")
    [delivery] = fired["deliveries"]
    assert delivery["status"] == "sent" and delivery["kind"] == "trigger"
    assert SECRET not in json.dumps(fired)
    alert = cli("alert", "show", "Notify if Issues > 5", "--json").json()
    assert alert["last_triggered_at"] is not None and alert["state"] == "triggered"
    [post] = sink.requests
    _verify_signature(post)
    assert post.json()["event"] == "alert.triggered" and post.json()["value"] == 6
    assert post.headers["Idempotency-Key"]

    # Run with 4: not a breach; a resolve notification, never a trigger.
    recovered = cli("metric", "run", "Open Issues", "--value", "4", "--json").json()
    [evaluation] = recovered["evaluations"]
    assert evaluation["triggered"] is False and evaluation["state_to"] == "ok"
    assert [d["kind"] for d in recovered["deliveries"]] == ["resolve"]
    after = cli("alert", "show", "Notify if Issues > 5", "--json").json()
    assert after["last_triggered_at"] == alert["last_triggered_at"]
    assert [r.json()["event"] for r in sink.requests] == ["alert.triggered", "alert.resolved"]

    # 6 again inside the cooldown: recorded as suppressed, nothing sent.
    again = cli("metric", "run", "Open Issues", "--value", "6", "--json").json()
    [evaluation] = again["evaluations"]
    assert evaluation["triggered"] is True and evaluation["notified"] is False
    assert "cooldown" in evaluation["reason"]
    assert again["deliveries"] == []
    assert len(sink.requests) == 2

    history = cli("alert", "history", "Notify if Issues > 5", "--json").json()
    assert [h["value"] for h in history] == [6, 4, 6]  # newest first

    # A fresh alert at 4: a history row with triggered false, and no POST at all.
    cli(
        "alert",
        "create",
        "--metric",
        "Open Issues",
        "--name",
        "fresh",
        "--when",
        "> 5",
        "--action",
        _webhook(sink),
    )
    calm = cli("metric", "run", "Open Issues", "--value", "4", "--json").json()
    fresh = [e for e in calm["evaluations"] if e["state_from"] == "ok" and e["state_to"] == "ok"]
    assert fresh and fresh[0]["triggered"] is False and fresh[0]["notified"] is False
    assert len(cli("alert", "history", "fresh", "--json").json()) == 1
    # The first alert was suppressed-triggered; 4 clears it without a resolve (not notified).
    assert calm["deliveries"] == []
    assert len(sink.requests) == 2


def _api_run(
    db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, value: Any, settings: Settings
) -> Any:
    with db.begin() as conn:
        execution = MetricStore(conn, org_id).record_value(metric_id, value)
    result = evaluate_alerts(db, metric_id, execution, settings=settings)

    async def deliver() -> None:
        async with HttpClient(settings) as http:
            await Deliverer(db, settings, http).deliver_ids(result.delivery_ids)

    asyncio.run(deliver())
    return result


def test_seed_plan_through_the_python_api(db: Database, org_id: uuid.UUID, sink: Any) -> None:
    settings = Settings(allow_private_networks=True)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Open Issues", "source": {"type": "push"}}
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Notify if Issues > 5",
                "condition_type": "threshold",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": json.loads(_webhook(sink)),
            }
        )

    fired = _api_run(db, org_id, metric.id, 6, settings)
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        [row] = store.history(alert.id)
        after_fire = store.get_alert(alert.id)
    assert row.triggered is True and row.execution_id == fired.execution_id
    assert after_fire.last_triggered_at is not None
    assert len(sink.requests) == 1
    _verify_signature(sink.requests[0])

    _api_run(db, org_id, metric.id, 4, settings)
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        latest = store.history(alert.id)[0]
        after_resolve = store.get_alert(alert.id)
    assert latest.triggered is False
    assert after_resolve.last_triggered_at == after_fire.last_triggered_at
    assert [r.json()["event"] for r in sink.requests] == ["alert.triggered", "alert.resolved"]

    suppressed = _api_run(db, org_id, metric.id, 6, settings)
    [evaluated] = suppressed.evaluated
    assert evaluated.decision.triggered and evaluated.decision.notify is None
    assert "cooldown" in (evaluated.decision.suppressed or "")
    assert len(sink.requests) == 2

    with db.begin() as conn:
        fresh = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "fresh",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": json.loads(_webhook(sink)),
            }
        )
    _api_run(db, org_id, metric.id, 4, settings)
    with db.connect() as conn:
        [row] = AlertStore(conn, org_id).history(fresh.id)
    assert row.triggered is False and row.notified is False
    assert len(sink.requests) == 2
