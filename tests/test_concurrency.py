"""Two evaluators of the same alert at once never both notify inside one cooldown."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, notification_deliveries
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

WORKERS = 8


def _race(db_url: str, org_id: uuid.UUID, metric_id: uuid.UUID, at: datetime) -> list[Any]:
    """WORKERS threads, each on its own connection, evaluate their own execution at once."""
    executions = []
    with Database(db_url).begin() as conn:
        for _ in range(WORKERS):
            executions.append(MetricStore(conn, org_id).record_value(metric_id, 6, at=at))
    barrier = threading.Barrier(WORKERS)
    results: list[Any] = []
    errors: list[BaseException] = []

    def work(execution: Any) -> None:
        db = Database(db_url)  # a separate engine: a separate connection, like a process
        try:
            barrier.wait()
            results.append(evaluate_alerts(db, metric_id, execution, settings=Settings()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=work, args=(e,)) for e in executions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_concurrent_evaluations_notify_once_per_cooldown(
    db: Database, db_url: str, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "cooldown_seconds": 3600,
                # Reminded at the cooldown, as alerts from before reminders are.
                "repeat_every_seconds": 3600,
                "action_config": {"type": "log"},
            }
        )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Three rounds: two inside one cooldown, the third after it.
    for offset in (timedelta(0), timedelta(minutes=30), timedelta(hours=2)):
        _race(db_url, org_id, metric.id, start + offset)
    with db.connect() as conn:
        deliveries = (
            conn.execute(
                select(notification_deliveries.c.payload).order_by(
                    notification_deliveries.c.created_at
                )
            )
            .scalars()
            .all()
        )
        evaluations = conn.execute(select(func.count()).select_from(alert_history)).scalar_one()
        fresh = AlertStore(conn, org_id).get_alert(alert.id)
    assert evaluations == 3 * WORKERS  # every evaluation is recorded
    assert len(deliveries) == 2  # one in the first cooldown, one after it
    assert [d["evaluated_at"][:13] for d in deliveries] == ["2026-01-01T00", "2026-01-01T02"]
    assert fresh.last_triggered_at == start + timedelta(hours=2)


def test_concurrent_evaluations_with_no_cooldown_still_send_once_per_moment(
    db: Database, db_url: str, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "cooldown_seconds": 0,
                "action_config": {"type": "log"},
            }
        )
    _race(db_url, org_id, metric.id, datetime(2026, 1, 1, tzinfo=UTC))
    with db.connect() as conn:
        sent = conn.execute(select(func.count()).select_from(notification_deliveries))
        assert sent.scalar_one() == 1
