"""Migration 0008 on SQLite and PostgreSQL: a database from before series (revision
0007) with a firing, notified alert, its history and its delivery upgrades, and the
alert goes on exactly where it was: its one series {} carries its state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from tests.helpers import downgrade_to, insert_old_metric
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.migrate import upgrade
from tocsin.db.schema import (
    alert_history,
    alert_series,
    alerts,
    notification_deliveries,
)
from tocsin.execution.runs import RunReport, run_now
from tocsin.http import HttpClient
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

# Ten minutes ago: inside the alert's one-hour cooldown when the test pushes.
FIRED = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)


def test_an_alert_from_before_series_goes_on_where_it_was(db: Database) -> None:
    # Given a database at revision 0007 with a triggered alert whose firing was sent
    downgrade_to(db, "0007")
    alert_id, history_id, delivery_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with db.begin() as conn:
        org = get_or_create_org(conn, "legacy")
        metric_id = insert_old_metric(conn, org, "Issues", FIRED)
        conn.execute(
            insert(alerts).values(
                id=alert_id,
                org_id=org,
                metric_id=metric_id,
                name="Issues > 5",
                description="",
                condition_type="threshold",
                threshold_value=Decimal(5),
                comparison_op="gt",
                action_config={"type": "log"},
                enabled=True,
                last_triggered_at=FIRED,
                change_mode="percent",
                lookback=1,
                cooldown_seconds=3600,
                pending_evaluations=1,
                notify_on_resolve=True,
                state="triggered",
                consecutive_breaches=1,
                episode_notified=True,
                last_evaluated_at=FIRED,
                last_value=Decimal(9),
                created_at=FIRED,
                updated_at=FIRED,
            )  # fmt: skip
        )
        conn.execute(
            insert(alert_history).values(
                id=history_id,
                alert_id=alert_id,
                org_id=org,
                execution_id=None,
                evaluated_at=FIRED,
                value=Decimal(9),
                baseline_value=None,
                triggered=True,
                state_from="ok",
                state_to="triggered",
                notified=True,
                reason="9 > 5; triggered",
            )  # fmt: skip
        )
        conn.execute(
            insert(notification_deliveries).values(
                id=delivery_id,
                org_id=org,
                alert_id=alert_id,
                history_id=history_id,
                kind="trigger",
                action={"type": "log"},
                payload={"kind": "trigger"},
                status="sent",
                attempts=1,
                next_attempt_at=FIRED,
                idempotency_key=f"{history_id}-0",
                created_at=FIRED,
                sent_at=FIRED,
            )  # fmt: skip
        )

    # When it upgrades
    upgrade(db.engine)

    # Then the alert has its one series {} with the alert's state, and its history and
    # delivery point at it
    with db.connect() as conn:
        (series,) = conn.execute(select(alert_series)).all()
        history = conn.execute(select(alert_history)).one()
        delivery = conn.execute(select(notification_deliveries)).one()
        store = AlertStore(conn, org)
        (shown,) = store.with_series([store.get_alert(alert_id)])
    assert (series.alert_id, series.series_key, series.labels) == (alert_id, "{}", {})
    assert (series.state, series.consecutive_breaches, series.episode_notified) == (
        "triggered",
        1,
        True,
    )
    assert series.last_triggered_at == FIRED and series.last_value == Decimal(9)
    assert history.series_id == series.id and delivery.series_id == series.id
    assert shown.series_states == {"triggered": 1} and shown.series_filter == []

    # and the alert goes on: a clear value resolves the notified firing, with a notice
    settings = Settings(database_url=db.url)

    async def push(value: int) -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(
                db, org, metric_id, settings=settings, http=http, value=value, has_value=True
            )

    resolved = asyncio.run(push(2))
    (evaluation,) = resolved.evaluations
    assert (evaluation.state_from, evaluation.state_to) == ("triggered", "ok")
    assert [d.kind for d in resolved.deliveries] == ["resolve"]
    assert evaluation.series_id == series.id
    # and a breach inside the old firing's cooldown is held back, as before series
    again = asyncio.run(push(9))
    assert again.deliveries == [] and "not sent: cooldown" in again.evaluations[0].reason
