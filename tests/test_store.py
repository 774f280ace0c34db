"""The alert and metric stores on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tocsin.alerts.store import AlertStore
from tocsin.credentials import CredentialStore
from tocsin.db.database import Database
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

SEED_COLUMNS = (
    "id",
    "org_id",
    "metric_id",
    "condition_type",
    "threshold_value",
    "comparison_op",
    "action_config",
    "enabled",
    "last_triggered_at",
)


def _metric(db: Database, org: uuid.UUID, name: str = "Open Issues") -> uuid.UUID:
    with db.begin() as conn:
        return MetricStore(conn, org).create({"name": name, "source": {"type": "push"}}).id


def test_alert_round_trip_keeps_every_seed_column(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    with db.begin() as conn:
        created = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric_id,
                "name": "Notify if Issues > 5",
                "condition_type": "threshold",
                "comparison_op": "gt",
                "threshold_value": "5.10",
                "action_config": {"type": "slack", "channelId": "C0123"},
            }
        )
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        again = store.get_alert(created.id)
        by_name = store.get_alert("Notify if Issues > 5")
    assert again == created == by_name
    for column in SEED_COLUMNS:
        assert column in again.public()
    assert again.threshold_value == Decimal("5.10")
    assert again.action_config == {"type": "slack", "channelId": "C0123"}
    assert again.enabled is True and again.last_triggered_at is None
    assert again.created_at.tzinfo is not None and again.created_at.utcoffset() == timedelta(0)


def test_action_config_accepts_a_list(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    with db.begin() as conn:
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric_id,
                "name": "two actions",
                "comparison_op": "lt",
                "threshold_value": 0,
                "action_config": [{"type": "log"}, {"type": "webhook", "url": "https://e.x/h"}],
            }
        )
    assert isinstance(alert.action_config, list) and len(alert.actions) == 2


def test_times_come_back_as_aware_utc(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    paris_time = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        alert = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 1,
                "action_config": {"type": "log"},
            }
        )
        muted = store.mute(alert.id, paris_time)
        row = store.log_alert_history(
            alert.id, None, True, reason="2 > 1", evaluated_at=paris_time, value=Decimal("2")
        )
    assert muted.muted_until == datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    assert muted.muted_until is not None and muted.muted_until.tzinfo is not None
    assert row.evaluated_at == paris_time and row.evaluated_at.utcoffset() == timedelta(0)


def test_get_alerts_for_metric_returns_enabled_alerts_only(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    other = _metric(db, org_id, "Signups")
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        on = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "on",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        off = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "off",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        store.create_alert(
            {
                "metric_id": other,
                "name": "elsewhere",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        store.set_enabled(off.id, False)
        assert [a.id for a in store.get_alerts_for_metric(metric_id)] == [on.id]


def test_log_alert_history_and_read_it_back(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        alert = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        execution = MetricStore(conn, org_id).record_value(metric_id, 6)
        store.log_alert_history(
            alert.id,
            execution.id,
            True,
            reason="6 > 5",
            value=Decimal(6),
            state_from="ok",
            state_to="triggered",
            notified=True,
        )
        rows = store.history(alert.id)
    assert len(rows) == 1
    assert rows[0].public() | {"id": None, "evaluated_at": None} == {
        "id": None,
        "alert_id": str(alert.id),
        "execution_id": str(execution.id),
        "evaluated_at": None,
        "value": 6,
        "baseline_value": None,
        "triggered": True,
        "state_from": "ok",
        "state_to": "triggered",
        "notified": True,
        "reason": "6 > 5",
    }


def test_bad_definitions_name_the_field_and_change_nothing(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    cases = {
        "comparison_op": {"comparison_op": "bigger"},
        "threshold_value": {"threshold_value": "five"},
        "action_config": {"action_config": {"type": "carrier-pigeon"}},
        "cooldown_seconds": {"cooldown_seconds": -1},
        "surprise": {"surprise": True},
    }
    base = {
        "metric_id": metric_id,
        "name": "a",
        "comparison_op": "gt",
        "threshold_value": 5,
        "action_config": {"type": "log"},
    }
    for field, change in cases.items():
        with pytest.raises(InvalidInput) as info, db.begin() as conn:
            AlertStore(conn, org_id).create_alert(base | change)
        assert info.value.field.startswith(field), (field, str(info.value))
    with db.begin() as conn:
        assert AlertStore(conn, org_id).list_alerts() == []


def test_duplicate_names_conflict(db: Database, org_id: uuid.UUID) -> None:
    _metric(db, org_id)
    with pytest.raises(Conflict), db.begin() as conn:
        MetricStore(conn, org_id).create({"name": "Open Issues", "source": {"type": "push"}})


def test_update_and_delete(db: Database, org_id: uuid.UUID) -> None:
    metric_id = _metric(db, org_id)
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        alert = store.create_alert(
            {
                "metric_id": metric_id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        updated = store.update_alert(alert.id, {"threshold_value": 10, "comparison_op": ">="})
        assert (updated.threshold_value, updated.comparison_op) == (Decimal(10), "gte")
        with pytest.raises(InvalidInput):
            store.update_alert(alert.id, {"lookback": 0})
        store.delete_alert("a")
        assert store.find_alert(alert.id) is None


def test_one_org_never_sees_another_orgs_objects(db: Database) -> None:
    with db.begin() as conn:
        org_a, org_b = get_or_create_org(conn, "a"), get_or_create_org(conn, "b")
    metric_a = _metric(db, org_a)
    metric_b = _metric(db, org_b)  # the same name in both orgs
    with db.begin() as conn:
        alert_a = AlertStore(conn, org_a).create_alert(
            {
                "metric_id": metric_a,
                "name": "shared name",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
    with db.begin() as conn:
        metrics_b, alerts_b = MetricStore(conn, org_b), AlertStore(conn, org_b)
        assert [m.id for m in metrics_b.list_metrics()] == [metric_b]
        assert metrics_b.get("Open Issues").id == metric_b
        with pytest.raises(NotFound):
            metrics_b.get(metric_a)
        with pytest.raises(NotFound):
            alerts_b.get_alert(alert_a.id)
        with pytest.raises(NotFound):
            alerts_b.get_alert("shared name")
        assert alerts_b.list_alerts() == []
        assert alerts_b.get_alerts_for_metric(metric_a) == []
        with pytest.raises(NotFound):
            alerts_b.create_alert(
                {
                    "metric_id": metric_a,
                    "name": "x",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
        with pytest.raises(NotFound):
            alerts_b.delete_alert(alert_a.id)
    with db.begin() as conn:
        assert AlertStore(conn, org_a).get_alert(alert_a.id).name == "shared name"


def test_metric_store_round_trip_and_schedule(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        CredentialStore(conn, org_id).save("TOKEN", "token-value")
        store = MetricStore(conn, org_id)
        m = store.create(
            {
                "name": "Stars",
                "source": {
                    "type": "http",
                    "url": "https://api.example.com/r",
                    "headers": {"Authorization": "${cred:TOKEN}", "X-Key": "literal-secret"},
                },
                "selector": {"json_path": "$.stars"},
                "schedule": {"cron": "*/5 * * * *", "timezone": "Europe/Paris"},
            }
        )
        again = store.get("Stars")
    assert again == m
    pub = m.public()
    assert pub["schedule"] == {"cron": "*/5 * * * *", "timezone": "Europe/Paris"}
    assert pub["selector"] == {"json_path": "$.stars", "row": "first"}
    assert pub["source"]["headers"] == {
        "Authorization": "${cred:TOKEN}",
        "X-Key": "***redacted***",
    }
    assert m.next_run_at is not None and m.next_run_at.tzinfo is not None
