"""evaluate_alerts against the real databases: batches, baselines, bad values, order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, notification_deliveries
from tocsin.ids import fresh_uuids
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

SETTINGS = Settings()
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _setup(
    db: Database, org_id: uuid.UUID, *, selector: dict[str, Any] | None = None, **alert: Any
) -> tuple[uuid.UUID, uuid.UUID]:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "m", "source": {"type": "push"}, "selector": selector}
        )
        created = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
            | alert
        )
    return metric.id, created.id


def _push(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, result: Any, at: datetime) -> Any:
    with db.begin() as conn:
        execution = MetricStore(conn, org_id).record_value(metric_id, result, at=at)
    return evaluate_alerts(db, metric_id, execution, settings=SETTINGS)


def _count(db: Database, table: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("result", "state", "needle"),
    [
        ("abc", "error", "not a number"),
        ("NaN", "error", "finite"),
        (True, "error", "boolean"),
        ("1e999999", "error", "too large"),
        ("9" * 5000, "error", "too large"),
        ({"columns": ["n"], "rows": []}, "no_data", "no rows"),
        (None, "no_data", "empty"),
    ],
)
def test_bad_values_are_recorded_with_a_reason_and_told_as_a_failure_notice(
    db: Database, org_id: uuid.UUID, result: Any, state: str, needle: str
) -> None:
    metric_id, alert_id = _setup(db, org_id)
    outcome = _push(db, org_id, metric_id, result, T0)
    [evaluated] = outcome.evaluated
    [delivery_id] = evaluated.delivery_ids
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert(alert_id)
        [row] = AlertStore(conn, org_id).history(alert_id)
        kind, payload = conn.execute(
            select(notification_deliveries.c.kind, notification_deliveries.c.payload).where(
                notification_deliveries.c.id == delivery_id
            )
        ).one()
    assert alert.state == state and row.state_to == state
    assert needle in row.reason and row.triggered is False and row.notified is True
    # A notice of the failure's own kind, with the reason; never a firing.
    assert kind == state and needle in payload["reason"] and payload["value"] is None
    assert alert.last_triggered_at is None


def test_a_failed_execution_moves_the_alert_to_error(db: Database, org_id: uuid.UUID) -> None:
    metric_id, alert_id = _setup(db, org_id)
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        exec_id = store.start_execution(metric_id, trigger="manual", started_at=T0)
        execution = store.finish_execution(
            exec_id, status="failed", error="HTTP 500 from x.test", completed_at=T0
        )
    evaluate_alerts(db, metric_id, execution, settings=SETTINGS)
    with db.connect() as conn:
        [row] = AlertStore(conn, org_id).history(alert_id)
    assert row.state_to == "error" and "HTTP 500 from x.test" in row.reason


def test_many_alerts_are_evaluated_in_batches(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        store = AlertStore(conn, org_id)
        for i in range(25):
            store.create_alert(
                {
                    "metric_id": metric.id,
                    "name": f"a{i}",
                    "comparison_op": "gt",
                    "threshold_value": i,
                    "action_config": [{"type": "log"}, {"type": "log"}],
                }
            )
        execution = MetricStore(conn, org_id).record_value(metric.id, 10, at=T0)
    outcome = evaluate_alerts(db, metric.id, execution, settings=SETTINGS, batch_size=7)
    assert len(outcome.evaluated) == 25
    assert _count(db, alert_history) == 25
    # Thresholds 0..9 are exceeded by 10: ten alerts fire, two actions each.
    assert _count(db, notification_deliveries) == 20
    # Evaluating the same execution again changes nothing.
    again = evaluate_alerts(db, metric.id, execution, settings=SETTINGS, batch_size=7)
    assert again.evaluated == []
    assert _count(db, alert_history) == 25


def test_relative_change_uses_the_run_lookback_runs_before(db: Database, org_id: uuid.UUID) -> None:
    metric_id, alert_id = _setup(
        db,
        org_id,
        condition_type="relative_change",
        comparison_op="lt",
        threshold_value=-20,
        lookback=2,
    )
    outcomes = [
        _push(db, org_id, metric_id, v, T0 + timedelta(minutes=i))
        for i, v in enumerate([100, 90, 70])
    ]
    first, second, third = (o.evaluated[0].decision for o in outcomes)
    assert first.state_to == "no_data" and "baseline" in first.reason
    assert second.state_to == "no_data"
    # 70 against 100 (two runs back) is -30%: fires.
    assert third.state_to == "triggered" and third.notify == "trigger"
    assert third.baseline_value == Decimal(100) and "-30%" in third.reason


def test_an_older_execution_is_recorded_but_never_moves_state_back(
    db: Database, org_id: uuid.UUID
) -> None:
    metric_id, alert_id = _setup(db, org_id)
    _push(db, org_id, metric_id, 6, T0 + timedelta(minutes=5))
    late = _push(db, org_id, metric_id, 1, T0)
    [evaluated] = late.evaluated
    assert evaluated.decision.applied is False and evaluated.delivery_ids == []
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert(alert_id)
        rows = AlertStore(conn, org_id).history(alert_id)
    assert alert.state == "triggered" and alert.last_value == Decimal(6)
    assert len(rows) == 2


def test_a_batch_applies_the_execution_only_to_alerts_it_is_not_older_for(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given an alert already evaluated at T0+5min and one created after that run,
    metric_id, seen_id = _setup(db, org_id)
    _push(db, org_id, metric_id, 6, T0 + timedelta(minutes=5))
    with db.begin() as conn:
        fresh_id = (
            AlertStore(conn, org_id)
            .create_alert(
                {
                    "metric_id": metric_id,
                    "name": "fresh",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
            .id
        )
    # when an older execution (T0, value 7) is evaluated,
    late = _push(db, org_id, metric_id, 7, T0)
    # then only the fresh alert moves and notifies; both record a history row.
    by_alert = {e.alert_id: e for e in late.evaluated}
    assert by_alert[seen_id].decision.applied is False
    assert by_alert[fresh_id].decision.applied is True
    assert by_alert[seen_id].delivery_ids == [] and len(by_alert[fresh_id].delivery_ids) == 1
    assert by_alert[fresh_id].history["alert_id"] == fresh_id
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        seen, fresh = store.get_alert(seen_id), store.get_alert(fresh_id)
        rows = store.history(fresh_id)
    assert seen.last_value == Decimal(6) and seen.last_evaluated_at == T0 + timedelta(minutes=5)
    assert fresh.state == "triggered" and fresh.last_value == Decimal(7)
    assert [r.id for r in rows] == [by_alert[fresh_id].history["id"]]


def test_muted_alerts_record_but_send_nothing(db: Database, org_id: uuid.UUID) -> None:
    metric_id, alert_id = _setup(db, org_id, muted_until=T0 + timedelta(hours=1))
    outcome = _push(db, org_id, metric_id, 6, T0)
    [evaluated] = outcome.evaluated
    assert evaluated.decision.triggered and evaluated.delivery_ids == []
    assert "muted" in evaluated.history["reason"]
    assert _count(db, notification_deliveries) == 0


def test_table_results_with_a_column_selector(db: Database, org_id: uuid.UUID) -> None:
    metric_id, _ = _setup(db, org_id, selector={"column": "n", "row": "max"})
    outcome = _push(
        db, org_id, metric_id, {"columns": ["day", "n"], "rows": [["mon", 3], ["tue", 7]]}, T0
    )
    assert outcome.evaluated[0].decision.value == Decimal(7)
    assert outcome.evaluated[0].decision.notify == "trigger"


def test_disabled_alerts_are_not_evaluated(db: Database, org_id: uuid.UUID) -> None:
    metric_id, alert_id = _setup(db, org_id, enabled=False)
    assert _push(db, org_id, metric_id, 6, T0).evaluated == []


def test_fresh_uuids_are_distinct_version_4_uuids() -> None:
    made = list(fresh_uuids(2000))
    assert len(set(made)) == 2000
    assert {(u.version, u.variant) for u in made} == {(4, uuid.RFC_4122)}
    assert all(uuid.UUID(str(u)) == u and uuid.UUID(bytes=u.bytes) == u for u in made)
