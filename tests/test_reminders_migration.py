"""Migration 0012 on SQLite and PostgreSQL (issue 18, reminders and cooldown): an alert
from before it keeps reminding as it did, its cooldown now also its repeat interval; a
new alert is reminded of nothing unless asked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import insert

from tests.helpers import downgrade_to, insert_old_metric
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.migrate import upgrade
from tocsin.db.schema import alerts
from tocsin.orgs import get_or_create_org

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_an_alert_from_before_reminders_reminds_at_its_cooldown(db: Database) -> None:
    # Given a database at revision 0011 with an alert whose cooldown is 10 minutes
    downgrade_to(db, "0011")
    alert_id = uuid.uuid4()
    with db.begin() as conn:
        org = get_or_create_org(conn, "legacy")
        metric_id = insert_old_metric(conn, org, "Queue", T0)
        conn.execute(
            insert(alerts).values(
                id=alert_id,
                org_id=org,
                metric_id=metric_id,
                name="deep",
                description="",
                condition_type="threshold",
                threshold_value=Decimal(5),
                comparison_op="gt",
                action_config={"type": "log"},
                enabled=True,
                change_mode="percent",
                lookback=1,
                cooldown_seconds=600,
                pending_evaluations=1,
                notify_on_resolve=True,
                state="ok",
                consecutive_breaches=0,
                episode_notified=False,
                created_at=T0,
                updated_at=T0,
            )  # fmt: skip
        )

    # When it upgrades
    upgrade(db.engine)

    # Then the old alert reminds every 10 minutes, and a new one never
    with db.begin() as conn:
        store = AlertStore(conn, org)
        assert store.get_alert(alert_id).repeat_every_seconds == 600
        made = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "new",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
    assert made.repeat_every_seconds is None and made.cooldown_seconds == 3600
