"""A scheduled run finishes its execution and evaluates its alerts in one transaction;
if that evaluation fails, the run's result is still recorded and evaluated after."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution import scheduler
from tocsin.execution.tasks import run_and_evaluate
from tocsin.http import HttpClient
from tocsin.metrics.sources.base import SourceConfig
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings


def _demo_metric_with_alert(db: Database, org_id: uuid.UUID) -> uuid.UUID:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Demo", "source": {"type": "demo"}, "schedule": {"every_seconds": 3600}}
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Demo above 0",
                "comparison_op": "gt",
                "threshold_value": 0,
                "action_config": {"type": "log"},
            }
        )
    return metric.id


def _run(db: Database, metric_id: uuid.UUID) -> Any:
    settings = Settings(database_url=db.url)

    async def go() -> Any:
        async with HttpClient(settings) as http:
            return await run_and_evaluate(db, settings, http, metric_id, scheduled_for=None)

    return asyncio.run(go())


def test_a_run_is_stored_evaluated_with_its_history(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _demo_metric_with_alert(db, org_id)
    outcome = _run(db, metric_id)
    assert outcome.execution.status == "completed"
    assert outcome.execution.evaluated_at is not None
    assert [e.decision.triggered for e in outcome.evaluation.evaluated] == [True]
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert("Demo above 0")
        history = AlertStore(conn, org_id).history(alert.id)
        (stored,) = MetricStore(conn, org_id).executions(metric_id)
    assert alert.state == "triggered" and len(history) == 1
    assert stored.evaluated_at is not None and stored.value == outcome.execution.value


def test_a_failed_evaluation_keeps_the_result_and_is_done_again(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    metric_id = _demo_metric_with_alert(db, org_id)
    real = scheduler.evaluate_alerts
    calls: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append("called")
        if len(calls) == 1:
            raise RuntimeError("evaluation broke")
        return real(*args, **kwargs)

    monkeypatch.setattr(scheduler, "evaluate_alerts", fails_once)
    outcome = _run(db, metric_id)
    # The run was recorded on its own, then evaluated in a second step.
    assert outcome.execution.status == "completed" and outcome.execution.value is not None
    assert [e.decision.triggered for e in outcome.evaluation.evaluated] == [True]
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert("Demo above 0")
        (stored,) = MetricStore(conn, org_id).executions(metric_id)
    assert alert.state == "triggered"
    assert stored.status == "completed" and stored.evaluated_at is not None


def _demo_metric(db: Database, org_id: uuid.UUID) -> uuid.UUID:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Demo", "source": {"type": "demo"}, "schedule": {"every_seconds": 3600}}
        )
    return metric.id


def test_a_run_of_a_metric_without_alerts_is_stored_evaluated(
    db: Database, org_id: uuid.UUID
) -> None:
    metric_id = _demo_metric(db, org_id)
    outcome = _run(db, metric_id)
    assert outcome.execution.status == "completed"
    assert outcome.evaluation.evaluated == []
    with db.connect() as conn:
        (stored,) = MetricStore(conn, org_id).executions(metric_id)
    # Not left for the sweep: there was nothing to evaluate.
    assert stored.evaluated_at is not None


def test_an_alert_created_while_the_run_was_in_flight_evaluates_its_result(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run started with no alert on its metric; one is created before it finishes."""
    metric_id = _demo_metric(db, org_id)

    def create_alert() -> None:
        with db.begin() as conn:
            AlertStore(conn, org_id).create_alert(
                {
                    "metric_id": metric_id,
                    "name": "Created mid-run",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )

    class CreatesAnAlert:
        config = SourceConfig(type="creates-an-alert")

        async def fetch(self, ctx: Any) -> object:
            await asyncio.to_thread(create_alert)
            return 9

    monkeypatch.setattr(scheduler, "build_source", lambda config: CreatesAnAlert())
    outcome = _run(db, metric_id)
    assert [e.decision.triggered for e in outcome.evaluation.evaluated] == [True]
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert("Created mid-run")
        (stored,) = MetricStore(conn, org_id).executions(metric_id)
    assert alert.state == "triggered" and alert.last_value == 9
    assert stored.evaluated_at is not None
