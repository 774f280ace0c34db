"""The statements a scheduled run costs: one to start it, one to finish it.

A worker's runs are bounded by what each costs the worker process, and on PostgreSQL
most of that is per statement (the driver's work, a round trip, a BEGIN and a COMMIT
of their own). So on PostgreSQL a run starts with one statement that reads its metric
and inserts its ``running`` execution, and, when the metric has no alert, finishes with
one UPDATE; both commit on their own (autocommit). SQLite runs in-process, where a
statement costs little: there the same work is plain statements in a transaction.

Both commit without waiting for the WAL flush (``synchronous_commit`` off for that
transaction only). What a database crash could lose is then at most the last fraction
of a second of run records, and never a record anything was sent on the strength of:
nothing is sent before a later synchronous commit (Procrastinate's, deferring or
fetching the delivery job), and a commit flushes all the WAL before it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import (
    Connection,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.exc import NoResultFound

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.native import compiled
from tocsin.db.schema import alerts, metric_executions, metrics
from tocsin.errors import NotFound
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.store import FINISH_UNLESS_ALERTS, MetricStore, row_to_execution


@dataclass(frozen=True)
class StartedRun:
    metric: Metric
    execution_id: uuid.UUID
    # Whether any enabled alert waits on this run's result (when it started).
    has_alerts: bool
    # The simulated series' position (other sources do not need it: 0).
    completed_runs: int


_COMPLETED_RUNS = (
    select(func.count())
    .select_from(metric_executions)
    .where(
        metric_executions.c.metric_id == metrics.c.id,
        metric_executions.c.status == "completed",
    )
    .scalar_subquery()
)
# Counting is not free: only the simulated series needs it.
_METRIC_FOR_RUN = select(
    metrics,
    exists()
    .where(alerts.c.metric_id == metrics.c.id, alerts.c.enabled.is_(True))
    .label("has_alerts"),
    case((metrics.c.source["type"].as_string() == "demo", _COMPLETED_RUNS), else_=0).label(
        "completed_runs"
    ),
).where(metrics.c.id == bindparam("metric_id"))
_METRIC_COLUMNS = tuple(metrics.c.keys())
# Evaluated inside the statement: the setting lasts until its (implicit) transaction
# commits, which is what it governs.
_NO_FLUSH_WAIT = func.set_config("synchronous_commit", "off", True)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def _start_in_one_statement() -> Any:
    found = _METRIC_FOR_RUN.cte("found")
    started = (
        insert(metric_executions)
        .from_select(
            ["id", "metric_id", "org_id", "status", "trigger", "scheduled_for", "started_at"],
            select(
                bindparam("execution_id", type_=metric_executions.c.id.type),
                found.c.id,
                found.c.org_id,
                literal("running"),
                bindparam("trigger", type_=metric_executions.c.trigger.type),
                bindparam("scheduled_for", type_=metric_executions.c.scheduled_for.type),
                bindparam("started_at", type_=metric_executions.c.started_at.type),
            ),
        )
        .returning(metric_executions.c.id)
        .cte("started")
    )
    return select(
        found, started.c.id.label("execution_id"), _NO_FLUSH_WAIT.label("flush")
    ).select_from(found.join(started, true()))


_START = _start_in_one_statement()
_START_NATIVE = compiled(_START)


def _metric_of(fields: Mapping[Any, Any]) -> Metric:
    """The metric's own columns of a row that carries more."""
    return Metric.model_validate({key: fields[key] for key in _METRIC_COLUMNS})


def _start_params(
    metric_id: uuid.UUID, execution_id: uuid.UUID, trigger: str, scheduled_for: datetime | None
) -> dict[str, Any]:
    return {
        "metric_id": metric_id,
        "execution_id": execution_id,
        "trigger": trigger,
        "scheduled_for": scheduled_for,
        "started_at": utcnow(),
    }


def _finish_params(
    run: StartedRun, status: str, result: Any, value: Decimal | None, error: str | None
) -> dict[str, Any]:
    return {
        "b_id": run.execution_id,
        "b_org_id": run.metric.org_id,
        "status": status,
        "result": result,
        "value": value,
        "error": error,
        "completed_at": utcnow(),
    }


def start_run(
    db: Database, metric_id: uuid.UUID, *, trigger: str, scheduled_for: datetime | None
) -> StartedRun:
    """Read the metric and record its execution as ``running``.

    Raises ``sqlalchemy.exc.NoResultFound`` when the metric is gone."""
    execution_id = uuid.uuid4()
    if db.is_sqlite:
        with db.begin() as conn:
            row = conn.execute(_METRIC_FOR_RUN, {"metric_id": metric_id}).one()
            metric = _metric_of(row._mapping)
            MetricStore(conn, metric.org_id).start_execution(
                metric_id, trigger=trigger, scheduled_for=scheduled_for, execution_id=execution_id
            )
    else:
        with db.autocommit() as conn:
            params = _start_params(metric_id, execution_id, trigger, scheduled_for)
            row = conn.execute(_START, params).one()
            metric = _metric_of(row._mapping)
    return StartedRun(metric, execution_id, bool(row.has_alerts), int(row.completed_runs))


def finish_unless_alerts(
    db: Database,
    run: StartedRun,
    *,
    status: str,
    result: Any,
    value: Decimal | None,
    error: str | None,
) -> Execution:
    """Finish a run that started with no alert on its metric: stored as evaluated, unless
    an alert was enabled meanwhile (``evaluated_at`` is then left empty: the caller
    evaluates it)."""
    if db.is_sqlite:
        with db.begin() as conn:
            return MetricStore(conn, run.metric.org_id).finish_execution(
                run.execution_id,
                status=status,
                result=result,
                error=error,
                value=value,
                evaluated="unless_alerts",
            )
    with db.autocommit() as conn:
        params = _finish_params(run, status, result, value, error)
        row = conn.execute(_FINISH_UNLESS_ALERTS, params).first()
    if row is None:
        raise NotFound("execution", str(run.execution_id))
    return row_to_execution(row)


_FINISH_UNLESS_ALERTS = FINISH_UNLESS_ALERTS.returning(_NO_FLUSH_WAIT.label("flush"))
_FINISH_NATIVE = compiled(_FINISH_UNLESS_ALERTS)


async def start_run_async(
    db: Database, metric_id: uuid.UUID, *, trigger: str, scheduled_for: datetime | None
) -> StartedRun:
    """``start_run`` from async code: on the event loop through ``db.native`` when the
    runtime opened one, else in a worker thread."""
    if db.native is None:
        return await asyncio.to_thread(
            start_run, db, metric_id, trigger=trigger, scheduled_for=scheduled_for
        )
    execution_id = uuid.uuid4()
    row = await db.native.fetch_one(
        _START_NATIVE, _start_params(metric_id, execution_id, trigger, scheduled_for)
    )
    if row is None:
        raise NoResultFound(f"metric {metric_id} not found")
    metric = _metric_of(row)
    return StartedRun(metric, execution_id, bool(row["has_alerts"]), int(row["completed_runs"]))


async def finish_unless_alerts_async(
    db: Database,
    run: StartedRun,
    *,
    status: str,
    result: Any,
    value: Decimal | None,
    error: str | None,
) -> Execution:
    """``finish_unless_alerts`` from async code (see ``start_run_async``)."""
    if db.native is None:
        return await asyncio.to_thread(
            finish_unless_alerts, db, run, status=status, result=result, value=value, error=error
        )
    params = _finish_params(run, status, result, value, error)
    # What SQLAlchemy's JSON type does for the thread path: None is stored as JSON null.
    params["result"] = Jsonb(result)
    row = await db.native.fetch_one(_FINISH_NATIVE, params)
    if row is None:
        raise NotFound("execution", str(run.execution_id))
    del row["flush"]
    return Execution.model_validate(row)


def begin_async_commit(conn: Connection) -> None:
    """Make ``conn``'s transaction commit without waiting for the WAL flush (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_ASYNC_COMMIT)
