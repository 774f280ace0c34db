"""The delivery engine against a real local webhook sink, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.channels.channel_support import Reply
from tests.helpers import opened
from tocsin.alerts.claims import claim_due
from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.outbox import DeliveryStore, Outcome, record_outcomes
from tocsin.alerts.retry import RetryPolicy, decide_retry
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import notification_deliveries
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

from .helpers import run_cli

SETTINGS = Settings(
    allow_private_networks=True,
    delivery_max_attempts=3,
    delivery_backoff_base_seconds=10,
    http_timeout_seconds=5,
)


def _fire(db: Database, org_id: uuid.UUID, actions: Any) -> list[uuid.UUID]:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": actions,
            }
        )
        execution = MetricStore(conn, org_id).record_value(metric.id, 6)
    return evaluate_alerts(db, metric.id, execution, settings=SETTINGS).delivery_ids


def _deliver(db: Database, settings: Settings = SETTINGS) -> list[Outcome]:
    async def go() -> list[Outcome]:
        async with HttpClient(settings) as http:
            return await Deliverer(db, settings, http).deliver_due()

    return asyncio.run(go())


def _make_due(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(
            update(notification_deliveries).values(
                next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )


def _rows(db: Database, org_id: uuid.UUID) -> dict[str, Any]:
    with db.connect() as conn:
        return {
            opened(db.url, d.action).get("url", d.action["type"]): d
            for d in DeliveryStore(conn, org_id).list()
        }


def test_transient_failures_retry_with_backoff_then_succeed(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    sink.reply(Reply(503), Reply(500))
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    before = datetime.now(UTC)
    [first] = _deliver(db)
    assert first.status == "pending" and first.response_status == 503
    assert first.next_attempt_at is not None
    # Exponential backoff with ±20% jitter: about 10 s after the first failure.
    assert timedelta(seconds=7) < first.next_attempt_at - before < timedelta(seconds=13)
    assert _deliver(db) == []  # not due yet
    _make_due(db)
    [second] = _deliver(db)
    assert second.status == "pending" and second.next_attempt_at is not None
    assert timedelta(seconds=15) < second.next_attempt_at - before < timedelta(seconds=26)
    _make_due(db)
    [third] = _deliver(db)
    assert third.status == "sent" and third.response_status == 200
    [row] = _rows(db, org_id).values()
    assert row.status == "sent" and row.attempts == 3 and row.sent_at is not None
    assert len(sink.requests) == 3
    # The same idempotency key on every attempt: the receiver can drop duplicates.
    assert len({r.headers["Idempotency-Key"] for r in sink.requests}) == 1


def test_retry_after_is_honoured(db: Database, org_id: uuid.UUID, sink: Any) -> None:
    sink.reply(Reply(429, headers={"Retry-After": "120"}))
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    before = datetime.now(UTC)
    [outcome] = _deliver(db)
    assert outcome.status == "pending" and outcome.next_attempt_at is not None
    assert outcome.next_attempt_at - before >= timedelta(seconds=119)


def test_gives_up_after_max_attempts(db: Database, org_id: uuid.UUID, sink: Any) -> None:
    sink.default = Reply(500)
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    statuses = []
    for _ in range(3):
        _make_due(db)
        statuses += [o.status for o in _deliver(db)]
    assert statuses == ["pending", "pending", "dead"]
    [row] = _rows(db, org_id).values()
    assert row.status == "dead" and "gave up after 3 attempts" in (row.last_error or "")


def test_permanent_failures_fail_at_once(db: Database, org_id: uuid.UUID, sink: Any) -> None:
    sink.default = Reply(404, "no such hook")
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    [outcome] = _deliver(db)
    assert outcome.status == "failed" and outcome.response_status == 404
    _make_due(db)
    assert _deliver(db) == []
    assert len(sink.requests) == 1


def test_each_action_is_delivered_and_retried_on_its_own(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    sink.default = lambda rec: Reply(500) if rec.path == "/bad" else Reply(200)
    _fire(
        db,
        org_id,
        [
            {"type": "webhook", "url": f"{sink.url}/good"},
            {"type": "webhook", "url": f"{sink.url}/bad"},
            {"type": "log"},
        ],
    )
    _deliver(db)
    rows = _rows(db, org_id)
    assert rows[f"{sink.url}/good"].status == "sent"
    assert rows["log"].status == "sent"
    assert rows[f"{sink.url}/bad"].status == "pending"
    _make_due(db)
    _deliver(db)
    assert [r.path for r in sink.requests].count("/good") == 1  # never re-sent
    assert [r.path for r in sink.requests].count("/bad") == 2


def test_refused_private_url_is_a_permanent_failure(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    [outcome] = _deliver(db, Settings(allow_private_networks=False))
    assert outcome.status == "failed" and "TOCSIN_ALLOW_PRIVATE_NETWORKS" in (outcome.error or "")
    assert sink.requests == []


def test_a_claim_is_exclusive_and_a_lapsed_lease_is_claimed_again(
    db: Database, org_id: uuid.UUID
) -> None:
    _fire(db, org_id, {"type": "log"})
    [claimed] = claim_due(db, limit=10, lease_seconds=60, max_attempts=3).claims
    # Leased to the first worker.
    assert claim_due(db, limit=10, lease_seconds=60, max_attempts=3).claims == []
    # The worker dies; after the lease, another worker claims it as attempt 2.
    later = datetime.now(UTC) + timedelta(seconds=61)
    [again] = claim_due(db, limit=10, lease_seconds=60, max_attempts=3, now=later).claims
    assert (claimed.attempts, again.attempts) == (1, 2)
    # The first worker wakes up: its result no longer applies.
    stale = Outcome(claimed.id, claimed.attempts, "sent", None, 200, None, 5, later)
    assert record_outcomes(db, [stale]) == 0
    fresh = Outcome(again.id, again.attempts, "sent", None, 200, None, 5, later)
    assert record_outcomes(db, [fresh]) == 1


def test_retry_policy_is_a_pure_decision() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=5, max_seconds=60, jitter=0)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    delays = [
        decide_retry(
            policy, attempts=n, transient=True, retry_after=None, now=now, rng=random.Random(1)
        ).next_attempt_at
        for n in range(1, 5)
    ]
    assert [(d - now).total_seconds() for d in delays if d] == [5, 10, 20, 40]
    capped = decide_retry(
        RetryPolicy(max_attempts=99, base_seconds=5, max_seconds=60, jitter=0),
        attempts=10,
        transient=True,
        retry_after=None,
        now=now,
    )
    assert capped.next_attempt_at == now + timedelta(seconds=60)
    assert (
        decide_retry(policy, attempts=5, transient=True, retry_after=None, now=now).status == "dead"
    )
    assert (
        decide_retry(policy, attempts=1, transient=False, retry_after=None, now=now).status
        == "failed"
    )


def test_deliveries_cli_list_retry_and_alert_test(
    db_url: str, sink: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}
    secret = "hook-secret-42"
    sink.default = Reply(400, "bad")
    action = json.dumps({"type": "webhook", "url": f"{sink.url}/h", "secret": secret})
    run_cli(db_url, "metric", "create", "m")
    run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        "m",
        "--name",
        "a",
        "--when",
        "> 5",
        "--action",
        action,
        "--action",
        "log",
        # The local sink is a private address: allowed when saved as when sent.
        env=env,
    )
    caplog.set_level(logging.DEBUG)
    tested = run_cli(db_url, "alert", "test", "a", "--json", env=env)
    assert tested.exit_code == 0, tested.stderr
    results = {d["channel"]: d for d in tested.json()}
    assert results["log"]["status"] == "sent" and results["log"]["kind"] == "test"
    assert results["webhook"]["status"] == "failed"
    assert sink.requests[0].json()["event"] == "alert.test"
    failed = run_cli(db_url, "deliveries", "list", "--status", "failed", "--json").json()
    assert [d["id"] for d in failed] == [results["webhook"]["id"]]
    # A retry is made there and then, and says how it went: failed again is exit 1...
    again = run_cli(db_url, "deliveries", "retry", failed[0]["id"], env=env)
    assert (
        again.exit_code == 1 and "not sent (notification failed: webhook HTTP 400)" in again.stdout
    )
    # ...sent is exit 0, without any runner running
    sink.default = Reply(200)
    retried = run_cli(db_url, "deliveries", "retry", failed[0]["id"], "--json", env=env)
    assert retried.exit_code == 0 and retried.json()["status"] == "sent"
    assert sink.requests[-1].json()["event"] == "alert.test"
    assert run_cli(db_url, "deliveries", "retry", results["log"]["id"]).exit_code == 2
    assert run_cli(db_url, "deliveries", "list", "--status", "nope").exit_code == 2
    everything = run_cli(db_url, "deliveries", "list", "--json").stdout
    assert secret not in everything and secret not in tested.stdout
    assert all(secret not in r.getMessage() for r in caplog.records)


def test_claimed_json_written_with_nan_by_pythons_json_still_reads() -> None:
    from tocsin.alerts.claims import _loads

    assert _loads('{"a": [1, "x"]}') == {"a": [1, "x"]}
    nan = _loads('{"v": NaN}')["v"]
    assert nan != nan  # noqa: PLR0124 - NaN is the one value unequal to itself
