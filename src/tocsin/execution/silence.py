"""Silence is data: the dead-man switch of a metric with ``expect_every`` (docs/alerts.md,
"Silence").

``metrics.missing_due_at`` says when the next ``missing`` run is due if no value arrives:
a period plus a tenth of grace after the last value (or after ``expect_every`` was set).
Pushes and runs never write it, so the hot push path pays nothing; each runtime's
per-second pass (:func:`record_missing_runs`, through ``tasks.record_silences``) looks
at the metrics whose moment has come, lazily:

* a value arrived since the period began (any finished run but a ``missing`` one: a
  failed run is an error of its own, not silence): ``missing_due_at`` moves to that
  value's completion plus the grace, and nothing is recorded;
* none did: the pass claims the period by moving ``missing_due_at`` on by one period,
  with a conditional UPDATE (``WHERE missing_due_at = <the value read>``) whose row count
  says who won, and only the winner records the ``missing`` run and evaluates it, in
  the claim's transaction. Two workers never record one period twice, and after
  downtime one run is recorded, not one per period missed (as ``due.py`` does).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, insert, select, update

from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.metrics.model import Execution, missing_reason, silence_grace
from tocsin.metrics.store import row_to_metric
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.silence")

# At most this many metrics a pass; the rest are still due at the next one.
SILENCE_BATCH = 200


@dataclass(frozen=True)
class MissingRun:
    """A recorded ``missing`` run, with its evaluation (``None``: it failed, and the
    sweep evaluates the run later, as any finished run left unevaluated)."""

    execution: Execution
    evaluation: EvaluationResult | None


_DUE = (
    select(
        metrics.c.id,
        metrics.c.org_id,
        metrics.c.expect_every_seconds,
        metrics.c.missing_due_at,
    )
    .where(metrics.c.missing_due_at.is_not(None), metrics.c.missing_due_at <= bindparam("now"))
    .order_by(metrics.c.missing_due_at)
    .limit(bindparam("limit"))
)
# The newest value since the period began, through (metric_id, completed_at).
_LAST_ARRIVAL = (
    select(metric_executions.c.completed_at)
    .where(
        metric_executions.c.metric_id == bindparam("metric_id"),
        metric_executions.c.completed_at > bindparam("since"),
        metric_executions.c.status != "missing",
    )
    .order_by(metric_executions.c.completed_at.desc())
    .limit(1)
)
# The one conditional UPDATE: it moves the moment only where it still holds what was read.
_MOVE = (
    update(metrics)
    .where(metrics.c.id == bindparam("b_id"), metrics.c.missing_due_at == bindparam("seen"))
    .values(missing_due_at=bindparam("following"))
)
_METRIC = select(metrics).where(metrics.c.id == bindparam("metric_id"))
_INSERT = insert(metric_executions)


def record_missing_runs(
    db: Database, settings: Settings, *, limit: int = SILENCE_BATCH
) -> list[MissingRun]:
    """One pass: every metric whose silence has lasted its period plus grace gets its
    ``missing`` run, recorded and evaluated, each in a transaction of its own."""
    with db.connect() as conn:
        due = [
            _Silent(r.id, r.org_id, r.expect_every_seconds, r.missing_due_at)
            for r in conn.execute(_DUE, {"now": utcnow(), "limit": limit})
        ]
    recorded = []
    for silent in due:
        with db.begin() as conn:
            found = _settle(db, conn, settings, silent)
        if found is not None:
            recorded.append(found)
    return recorded


@dataclass(frozen=True)
class _Silent:
    metric_id: uuid.UUID
    org_id: uuid.UUID
    period: int
    seen: datetime  # missing_due_at as read


def _settle(db: Database, conn: Connection, settings: Settings, due: _Silent) -> MissingRun | None:
    metric_id, period, seen = due.metric_id, due.period, due.seen
    grace = silence_grace(period)
    arrived = conn.execute(_LAST_ARRIVAL, {"metric_id": metric_id, "since": seen - grace}).scalar()
    if arrived is not None:
        # Heard from within the period: wait a period and its grace from that value.
        moved = arrived + grace
        if conn.execute(_MOVE, {"b_id": metric_id, "seen": seen, "following": moved}).rowcount != 1:
            return None  # another process moved it first
        if moved > utcnow():
            return None
        # That wait is over too (the value came early in the period this pass looked
        # at): the silence is due now, not one pass later.
        seen = moved
    now = utcnow()
    following = seen + timedelta(seconds=period)
    if following <= now:
        following = now + timedelta(seconds=period)
    if conn.execute(_MOVE, {"b_id": metric_id, "seen": seen, "following": following}).rowcount != 1:
        return None  # another process claimed this period (or the metric changed)
    execution = Execution(
        id=uuid.uuid4(),
        metric_id=metric_id,
        org_id=due.org_id,
        status="missing",
        trigger="schedule",
        # The moment the silence came due: which period this run stands for.
        scheduled_for=seen,
        started_at=now,
        completed_at=now,
        result=None,
        value=None,
        error=missing_reason(period),
    )
    conn.execute(_INSERT, execution.model_dump(exclude={"evaluated_at"}))
    metric = row_to_metric(conn.execute(_METRIC, {"metric_id": metric_id}).one())
    try:
        # A savepoint: should the evaluation fail, the claim and the run stay recorded,
        # the run unevaluated, for the sweep to evaluate as it does any crashed run's.
        with conn.begin_nested():
            evaluation = evaluate_alerts(
                db, metric_id, execution, settings=settings, metric=metric, conn=conn
            )
    except Exception:  # noqa: BLE001 - logged; the sweep evaluates the run
        logger.exception("metric %s: evaluating its missing run failed", metric_id)
        return MissingRun(execution, None)
    return MissingRun(execution, evaluation)
