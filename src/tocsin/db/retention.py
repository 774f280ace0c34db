"""Retention: what is old enough to go, removed in short batches by either runtime.

Three ages (``TOCSIN_*_RETENTION``, see ``Retention``):

- **history**: evaluations that changed nothing and sent nothing (``state_from =
  state_to``, not notified, no delivery) - nearly every row of a quiet series;
- **transitions**: every other history row (a state change, anything sent) and the
  deliveries that are settled (delivered or dead), which go no later than their row;
- **executions**: finished, evaluated runs, except the newest ones each metric's
  alerts still read as a baseline (``lookback`` runs back).

Every delete is one alert's (or one metric's) rows through the index that starts with
its id, at most ``batch`` rows, in a transaction of its own: no statement scans a table
or holds a lock for long, and runs keep writing in between. On PostgreSQL, months of
history past the transition age are dropped whole first (``tocsin.db.partitions``), and
upkeep keeps the coming months' partitions ready.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import ColumnElement, Connection, Delete, delete, exists, func, not_, select
from sqlalchemy.exc import DBAPIError

from tocsin.clock import utcnow
from tocsin.db import partitions
from tocsin.db.database import Database
from tocsin.db.schema import (
    alert_history,
    alerts,
    metric_executions,
    metrics,
    notification_deliveries,
)
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.retention")

# Rows per delete. SQLite has one writer: a batch holds every run's writes back while it
# deletes (about 0.1 ms a row, bench/retention.py), so its batches are short.
BATCH = {"sqlite": 500, "postgresql": 2_000}
# Executions kept beyond the deepest lookback: the run being evaluated while the prune
# runs reads its baselines from before it.
KEEP_SPARE = 1

ah, nd, me = alert_history, notification_deliveries, metric_executions


@dataclass(frozen=True)
class Retention:
    history: timedelta
    transitions: timedelta
    executions: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(
            settings.history_retention,
            settings.transition_retention,
            settings.execution_retention,
        )


@dataclass
class Pruned:
    quiet: int = 0  # history rows that changed nothing and sent nothing
    transitions: int = 0  # other history rows
    deliveries: int = 0
    executions: int = 0
    partitions: list[str] = field(default_factory=list)  # months dropped whole
    finished: bool = True  # False: the time budget ran out; the next pass goes on

    @property
    def rows(self) -> int:
        return self.quiet + self.transitions + self.deliveries + self.executions


def _sent(history_id: ColumnElement[uuid.UUID]) -> ColumnElement[bool]:
    return exists().where(nd.c.history_id == history_id)


def _quiet_rows(alert_id: uuid.UUID, cutoff: datetime, size: int) -> Delete:
    old = (
        select(ah.c.id)
        .where(
            ah.c.alert_id == alert_id,
            ah.c.evaluated_at < cutoff,
            ah.c.state_from == ah.c.state_to,
            not_(ah.c.notified),
            not_(_sent(ah.c.id)),
        )
        .limit(size)
    )
    # evaluated_at on the outer delete too: PostgreSQL then touches old months only.
    return delete(ah).where(ah.c.evaluated_at < cutoff, ah.c.id.in_(old))


def _old_rows(alert_id: uuid.UUID, cutoff: datetime, size: int) -> Delete:
    old = select(ah.c.id).where(ah.c.alert_id == alert_id, ah.c.evaluated_at < cutoff).limit(size)
    return delete(ah).where(ah.c.evaluated_at < cutoff, ah.c.id.in_(old))


def _settled_deliveries(alert_id: uuid.UUID, cutoff: datetime, size: int) -> Delete:
    old = (
        select(nd.c.id)
        .where(nd.c.alert_id == alert_id, nd.c.created_at < cutoff, nd.c.status != "pending")
        .limit(size)
    )
    return delete(nd).where(nd.c.id.in_(old))


def _old_executions(metric_id: uuid.UUID, keep: int, cutoff: datetime, size: int) -> Delete:
    newest = (
        select(me.c.id)
        .where(me.c.metric_id == metric_id, me.c.status == "completed")
        .order_by(me.c.completed_at.desc(), me.c.id.desc())
        .limit(keep)
    )
    old = (
        select(me.c.id)
        .where(
            me.c.metric_id == metric_id,
            me.c.completed_at < cutoff,
            # Not yet evaluated: the sweep still owes it an evaluation.
            me.c.evaluated_at.is_not(None),
            me.c.id.not_in(newest),
        )
        .limit(size)
    )
    return delete(me).where(me.c.id.in_(old))


class _Pass:
    """One pass's clock and tally: deletes in batches until done or out of time."""

    def __init__(self, db: Database, budget_seconds: float, size: int) -> None:
        self.db = db
        self.size = size
        self.deadline = time.monotonic() + budget_seconds
        self.out = Pruned()

    def over(self) -> bool:
        if time.monotonic() >= self.deadline:
            self.out.finished = False
        return not self.out.finished

    def drain(self, statement: Callable[[int], Delete]) -> int:
        """Run the batch until it deletes less than a full batch; the rows deleted."""
        total = 0
        while not self.over():
            with self.db.begin() as conn:
                count = conn.execute(statement(self.size)).rowcount
            total += count
            if count < self.size:
                break
        return total


def _lookbacks(conn: Connection) -> dict[uuid.UUID, int]:
    """Each metric's deepest alert lookback (metrics without alerts: none)."""
    rows = conn.execute(
        select(alerts.c.metric_id, func.max(alerts.c.lookback)).group_by(alerts.c.metric_id)
    )
    return {metric_id: int(deepest or 1) for metric_id, deepest in rows}


def prune(
    db: Database,
    retention: Retention,
    *,
    now: datetime | None = None,
    budget_seconds: float = 60.0,
    batch: int | None = None,
) -> Pruned:
    """Remove what each retention has let go, oldest kinds first, within the budget."""
    now = now or utcnow()
    quiet_cut = now - retention.history
    transition_cut = now - retention.transitions
    execution_cut = now - retention.executions
    run = _Pass(db, budget_seconds, batch or BATCH[db.dialect])
    if not db.is_sqlite:
        try:
            with db.begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
                run.out.partitions = partitions.drop_before(conn, transition_cut)
        except DBAPIError as exc:
            # A lock not had within 2 s: the deletes below remove those rows meanwhile, and
            # the next pass drops what is left.
            logger.warning("could not drop old history partitions: %s", exc.orig or exc)
    with db.connect() as conn:
        alert_ids = list(conn.execute(select(alerts.c.id).order_by(alerts.c.id)).scalars())
        lookbacks = _lookbacks(conn)
        metric_ids = list(conn.execute(select(metrics.c.id).order_by(metrics.c.id)).scalars())
    for alert_id in alert_ids:
        if run.over():
            break
        run.out.deliveries += run.drain(partial(_settled_deliveries, alert_id, transition_cut))
        run.out.transitions += run.drain(partial(_old_rows, alert_id, transition_cut))
        run.out.quiet += run.drain(partial(_quiet_rows, alert_id, quiet_cut))
    for metric_id in metric_ids:
        if run.over():
            break
        keep = lookbacks.get(metric_id, 1) + KEEP_SPARE
        run.out.executions += run.drain(partial(_old_executions, metric_id, keep, execution_cut))
    return run.out


def prepare_partitions(db: Database, *, now: datetime | None = None) -> list[str]:
    """PostgreSQL: this month's and the coming months' partitions, and one for each month
    that has rows in the default partition; the names created."""
    if db.is_sqlite:
        return []
    first = partitions.month_of(now or utcnow())
    with db.begin() as conn:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        wanted = [
            *partitions.months_from(first, partitions.AHEAD + 1),
            *partitions.stray_months(conn),
        ]
        return partitions.ensure_months(conn, wanted)
