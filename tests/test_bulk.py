"""Rows written by the driver-level bulk path read back unchanged through the typed path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Connection

from tocsin.alerts.model import Alert
from tocsin.alerts.store import AlertStore
from tocsin.db.bulk import insert_rows, update_rows
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, alerts
from tocsin.metrics.store import MetricStore


def test_insert_and_update_round_trip(db: Database, org_id: uuid.UUID) -> None:
    plus2 = timezone(timedelta(hours=2))
    at = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=plus2)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 1,
                "action_config": [{"type": "log"}],
            }
        )
        rows = [
            {
                "id": uuid.uuid4(),
                "alert_id": alert.id,
                "org_id": org_id,
                "execution_id": None,
                "evaluated_at": at + timedelta(seconds=i),
                "value": Decimal("123456789012345678901234.000000001") if i == 0 else None,
                "baseline_value": Decimal("-0.5"),
                "triggered": i == 0,
                "state_from": "ok",
                "state_to": "triggered",
                "notified": False,
                "reason": f"reason {i} ü",
                # Series (issue 16): labels are JSON, written in bulk like the rest.
                "series_id": None,
                "labels": {"service": "api ü", "tier": "1"} if i == 0 else None,
            }
            for i in range(3)
        ]
        insert_rows(conn, alert_history, rows)
        update_rows(
            conn,
            alerts,
            "id",
            [
                {
                    "id": alert.id,
                    "state": "triggered",
                    "last_triggered_at": at,
                    "last_value": Decimal("6.50"),
                    "episode_notified": True,
                    "consecutive_breaches": 2,
                }
            ],
        )
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        back = sorted(store.history(alert.id), key=lambda r: r.evaluated_at)
        fresh = store.get_alert(alert.id)
        later = store.history(alert.id, since=at + timedelta(seconds=1))
    assert [r.model_dump(exclude={"org_id"}) for r in back] == [
        {k: v for k, v in row.items() if k != "org_id"} for row in rows
    ]
    assert back[0].evaluated_at.utcoffset() == timedelta(0)
    assert len(later) == 2  # stored times compare correctly in SQL
    assert fresh.state == "triggered" and fresh.last_triggered_at == at
    assert fresh.last_value == Decimal("6.50") and fresh.episode_notified is True
    assert fresh.consecutive_breaches == 2 and fresh.action_config == [{"type": "log"}]


def test_naive_times_are_refused(db: Database, org_id: uuid.UUID) -> None:
    with pytest.raises(ValueError, match="naive"), db.begin() as conn:
        insert_rows(
            conn, alert_history, [{"id": uuid.uuid4(), "evaluated_at": datetime(2026, 1, 1)}]
        )


def _alerts(conn: Connection, org_id: uuid.UUID, names: list[str]) -> list[Alert]:
    metric = MetricStore(conn, org_id).create({"name": "m", "source": {"type": "push"}})
    store = AlertStore(conn, org_id)
    return [
        store.create_alert(
            {
                "metric_id": metric.id,
                "name": name,
                "comparison_op": "gt",
                "threshold_value": 1,
                "action_config": {"type": "log"},
            }
        )
        for name in names
    ]


def test_update_guarded_by_unset_or_not_after(db: Database, org_id: uuid.UUID) -> None:
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with db.begin() as conn:
        made = _alerts(conn, org_id, ["never sent", "sent long ago", "sent just now"])
        sent = {made[1].id: at - timedelta(hours=2), made[2].id: at - timedelta(minutes=5)}
        update_rows(
            conn, alerts, "id", [{"id": k, "last_triggered_at": v} for k, v in sent.items()]
        )
        changed = update_rows(
            conn,
            alerts,
            "id",
            [
                {"id": a.id, "last_triggered_at": at, "cutoff": at - timedelta(hours=1)}
                for a in made
            ],
            unset_or_not_after=("last_triggered_at", "cutoff"),
        )
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        after = [store.get_alert(a.id).last_triggered_at for a in made]
    # NULL and "two hours ago" are not after the cutoff; "five minutes ago" is.
    assert changed == 2
    assert after == [at, at, at - timedelta(minutes=5)]


def test_update_keeps_awkward_text_and_exact_decimals(db: Database, org_id: uuid.UUID) -> None:
    # Quotes, braces, commas and backslashes are what an array's text form must escape.
    awkward = ['say "hi", {x}\\y', "", "NULL", "ü €"]
    values = [Decimal("1E-30"), Decimal("-12345678901234567890.5"), None, Decimal("0")]
    with db.begin() as conn:
        made = _alerts(conn, org_id, [f"a{i}" for i in range(len(awkward))])
        rows = [
            {"id": a.id, "description": text, "last_value": value}
            for a, text, value in zip(made, awkward, values, strict=True)
        ]
        assert update_rows(conn, alerts, "id", rows) == len(made)
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        back = [store.get_alert(a.id) for a in made]
    assert [a.description for a in back] == awkward
    assert [a.last_value for a in back] == values
