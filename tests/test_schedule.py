"""Schedules and the claim of due metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.scheduler import claim_due_metrics
from tocsin.metrics.schedule import Schedule
from tocsin.metrics.store import MetricStore


def test_interval_and_cron_slots() -> None:
    at = datetime(2026, 3, 28, 23, 59, 30, tzinfo=UTC)
    assert Schedule(every_seconds=60).next_after(at) == at + timedelta(seconds=60)
    cron = Schedule(cron="0 9 * * *", timezone="Europe/Paris")
    # 09:00 in Paris on the day after (CET, UTC+1), then after the DST switch (UTC+2).
    assert cron.next_after(at) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert cron.next_after(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"every_seconds": 0},
        {"cron": "nope"},
        {"cron": "* * * * *", "timezone": "Mars/Base"},
        {"every_seconds": 5, "cron": "* * * * *"},
        {"every_seconds": 5, "timezone": "UTC"},
    ],
)
def test_bad_schedules_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Schedule.model_validate(raw)


def test_after_downtime_a_metric_runs_once_not_once_per_missed_slot(
    db: Database, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        m = MetricStore(conn, org_id).create(
            {"name": "m", "source": {"type": "demo"}, "schedule": {"every_seconds": 60}}
        )
        long_ago = datetime.now(UTC) - timedelta(hours=5)
        conn.execute(update(metrics).where(metrics.c.id == m.id).values(next_run_at=long_ago))
    now = datetime.now(UTC)
    [due] = claim_due_metrics(db, now=now)
    assert due.metric_id == m.id and due.scheduled_for == long_ago
    assert claim_due_metrics(db, now=now + timedelta(seconds=1)) == []
    with db.connect() as conn:
        nxt = MetricStore(conn, org_id).get(m.id).next_run_at
    assert nxt is not None and now < nxt <= now + timedelta(seconds=60)


def test_each_slot_is_claimed_once(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        for i in range(5):
            store.create(
                {"name": f"m{i}", "source": {"type": "demo"}, "schedule": {"every_seconds": 10}}
            )
    now = datetime.now(UTC) + timedelta(seconds=1)
    first = claim_due_metrics(db, now=now)
    second = claim_due_metrics(db, now=now)
    assert len(first) == 5 and second == []
    later = claim_due_metrics(db, now=now + timedelta(seconds=10))
    assert len(later) == 5


def test_disabled_and_push_metrics_are_never_due(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        store.create({"name": "pushed", "source": {"type": "push"}})
        store.create(
            {
                "name": "off",
                "source": {"type": "demo"},
                "enabled": False,
                "schedule": {"every_seconds": 1},
            }
        )
    assert claim_due_metrics(db, now=datetime.now(UTC) + timedelta(days=1)) == []
