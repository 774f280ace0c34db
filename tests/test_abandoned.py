"""Runs a dead process left ``running``: the sweep and a worker retrying a dead worker's
job both end them as failed, with one message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tocsin.db.database import Database
from tocsin.execution.abandoned import (
    ABANDONED,
    fail_abandoned_executions,
    fail_abandoned_slot,
)
from tocsin.metrics.store import MetricStore


def test_the_run_of_a_dead_workers_slot_is_failed_once(db: Database, org_id: uuid.UUID) -> None:
    slot = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "m", "source": {"type": "push"}})
        started = store.start_execution(metric.id, trigger="schedule", scheduled_for=slot)
    failed = fail_abandoned_slot(db, metric.id, slot)
    assert failed is not None
    assert (failed.id, failed.status, failed.error) == (started, "failed", ABANDONED)
    assert failed.completed_at is not None
    # A second retry finds the same execution and leaves it as it is.
    again = fail_abandoned_slot(db, metric.id, slot)
    assert again is not None
    assert (again.id, again.completed_at) == (started, failed.completed_at)
    # A slot the dead worker never started is run as usual.
    assert fail_abandoned_slot(db, metric.id, slot + timedelta(minutes=1)) is None


def test_the_sweep_fails_runs_past_their_timeout(db: Database, org_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "m", "source": {"type": "push"}})
        stale = store.start_execution(
            metric.id, trigger="schedule", started_at=now - timedelta(minutes=5)
        )
        store.start_execution(metric.id, trigger="schedule", started_at=now)
    failed = fail_abandoned_executions(db, grace=timedelta(seconds=10))
    assert [(e.id, e.status, e.error) for e in failed] == [(stale, "failed", ABANDONED)]
