"""Runs a dead process left ``running``, marked failed so that they get evaluated (as an
error) instead of hanging forever.

Two ways one is found, one way it is ended (``_fail``, with the one ``ABANDONED``
message): the sweep of either runtime looks for runs past their source's timeout
(:func:`fail_abandoned_executions`); a Procrastinate worker retrying the job of a dead
worker looks up the run of that job's slot (:func:`fail_abandoned_slot`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.execution.scheduler import TIMEOUT_GRACE_SECONDS
from tocsin.metrics.model import Execution
from tocsin.metrics.store import row_to_execution

ABANDONED = "abandoned: the process running it stopped before it finished"


def fail_abandoned_executions(db: Database, *, grace: timedelta) -> list[Execution]:
    """Executions left ``running`` by a process that died: once their source's timeout
    plus ``grace`` has passed, they are marked failed."""
    now = utcnow()
    with db.begin() as conn:
        rows = conn.execute(
            select(metric_executions.c.id, metric_executions.c.started_at, metrics.c.source)
            .join(metrics, metrics.c.id == metric_executions.c.metric_id)
            .where(metric_executions.c.status == "running")
        ).all()
        stale = [
            r.id
            for r in rows
            if r.started_at
            + timedelta(seconds=float(r.source.get("timeout_seconds", 30)) + TIMEOUT_GRACE_SECONDS)
            + grace
            <= now
        ]
        if not stale:
            return []
        return [row_to_execution(r) for r in _fail(conn, stale, now)]


def fail_abandoned_slot(db: Database, metric_id: uuid.UUID, slot: datetime) -> Execution | None:
    """The execution a dead worker left for this slot, marked failed if still running;
    None if the slot never started."""
    with db.begin() as conn:
        row = conn.execute(
            select(metric_executions)
            .where(
                metric_executions.c.metric_id == metric_id,
                metric_executions.c.scheduled_for == slot,
                # A missing run names the moment its silence came due, which may be a
                # run's slot too: it is no run of that slot.
                metric_executions.c.status != "missing",
            )
            .order_by(metric_executions.c.started_at.desc())
            .limit(1)
            .with_for_update()
        ).first()
        if row is None:
            return None
        if row.status == "running":
            # Locked above: nothing can have finished it in between.
            row = _fail(conn, [row.id], utcnow())[0]
        return row_to_execution(row)


def _fail(conn: Connection, ids: Sequence[uuid.UUID], now: datetime) -> Sequence[Row[Any]]:
    # Still "running" in the same statement: a run that finished meanwhile keeps its
    # outcome.
    return conn.execute(
        update(metric_executions)
        .where(metric_executions.c.id.in_(ids), metric_executions.c.status == "running")
        .values(status="failed", completed_at=now, error=ABANDONED)
        .returning(*metric_executions.c)
    ).all()
