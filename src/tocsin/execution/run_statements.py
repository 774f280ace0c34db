"""The statements a scheduled run costs: one to start it, one to finish it, and the
evaluation that finishing it carries (run stores call these; see ``run_store.py``).

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

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

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

from tocsin.alerts.evaluator import EvaluationResult, evaluate_group
from tocsin.clock import utcnow
from tocsin.db.bulk import update_columns
from tocsin.db.database import Database
from tocsin.db.native import NativePool, compiled
from tocsin.db.schema import alerts, metric_executions, metrics
from tocsin.errors import NotFound
from tocsin.execution.run_store import DueMetric, FinishedRun, RunRecord, StartedRun
from tocsin.metrics.model import Execution, Metric, Trigger, observe
from tocsin.metrics.store import FINISH_UNLESS_ALERTS, MetricStore, row_to_execution
from tocsin.settings import Settings

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
_FOR_RUN = select(
    metrics,
    exists()
    .where(alerts.c.metric_id == metrics.c.id, alerts.c.enabled == true())
    .label("has_alerts"),
    case((metrics.c.source["type"].as_string() == "demo", _COMPLETED_RUNS), else_=0).label(
        "completed_runs"
    ),
)
_METRIC_FOR_RUN = _FOR_RUN.where(metrics.c.id == bindparam("metric_id"))
_METRICS_FOR_RUNS = _FOR_RUN.where(metrics.c.id.in_(bindparam("metric_ids", expanding=True)))
_METRIC_COLUMNS = tuple(metrics.c.keys())
_INSERT_RUNNING = insert(metric_executions)
# Evaluated inside the statement: the setting lasts until its (implicit) transaction
# commits, which is what it governs.
_NO_FLUSH_WAIT = func.set_config("synchronous_commit", "off", True)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")
_SYNC_COMMIT = text("SET LOCAL synchronous_commit TO ON")


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
_FINISH_UNLESS_ALERTS = FINISH_UNLESS_ALERTS.returning(_NO_FLUSH_WAIT.label("flush"))
_FINISH_NATIVE = compiled(_FINISH_UNLESS_ALERTS)


def _started(fields: Mapping[Any, Any], execution_id: uuid.UUID) -> StartedRun:
    """A run of the metric whose columns (and more) ``fields`` holds."""
    metric = Metric.model_validate({key: fields[key] for key in _METRIC_COLUMNS})
    return StartedRun(
        metric, execution_id, bool(fields["has_alerts"]), int(fields["completed_runs"])
    )


def _start_params(
    metric_id: uuid.UUID, execution_id: uuid.UUID, trigger: Trigger, scheduled_for: datetime | None
) -> dict[str, Any]:
    return {
        "metric_id": metric_id,
        "execution_id": execution_id,
        "trigger": trigger,
        "scheduled_for": scheduled_for,
        "started_at": utcnow(),
    }


def _finish_params(item: FinishedRun) -> dict[str, Any]:
    return {
        "b_id": item.run.execution_id,
        "b_org_id": item.run.metric.org_id,
        "status": item.status,
        "result": item.result,
        "value": item.value,
        "error": item.error,
        "completed_at": utcnow(),
    }


def start_run(
    conn: Connection, metric_id: uuid.UUID, *, trigger: Trigger, scheduled_for: datetime | None
) -> StartedRun:
    """Read the metric and record its execution as ``running``, in ``conn``'s
    transaction (on PostgreSQL, one statement).

    Raises ``sqlalchemy.exc.NoResultFound`` when the metric is gone."""
    execution_id = uuid.uuid4()
    params = _start_params(metric_id, execution_id, trigger, scheduled_for)
    if conn.dialect.name == "sqlite":
        row = conn.execute(_METRIC_FOR_RUN, {"metric_id": metric_id}).one()
        run = _started(row._mapping, execution_id)
        MetricStore(conn, run.metric.org_id).start_execution(
            metric_id,
            trigger=trigger,
            scheduled_for=scheduled_for,
            execution_id=execution_id,
            started_at=params["started_at"],
        )
    else:
        run = _started(conn.execute(_START, params).one()._mapping, execution_id)
    return replace(
        run, scheduled_for=scheduled_for, started_at=params["started_at"], trigger=trigger
    )


def _as_started(run: StartedRun, params: Mapping[str, Any]) -> StartedRun:
    """``run`` with what its execution was stored with (``_start_params``)."""
    return replace(
        run,
        scheduled_for=params["scheduled_for"],
        started_at=params["started_at"],
        trigger=params["trigger"],
    )


def start_claimed(conn: Connection, due: Sequence[DueMetric]) -> list[StartedRun]:
    """Record a ``running`` execution for each claimed slot whose metric still exists:
    one read and one multi-row insert for the lot."""
    if not due:
        return []
    rows = conn.execute(_METRICS_FOR_RUNS, {"metric_ids": [d.metric_id for d in due]}).all()
    found = {row.id: row._mapping for row in rows}
    started: list[StartedRun] = []
    inserts: list[dict[str, Any]] = []
    now = utcnow()
    for slot in due:
        fields = found.get(slot.metric_id)
        if fields is None:
            continue  # deleted since it was claimed
        run = replace(
            _started(fields, uuid.uuid4()), scheduled_for=slot.scheduled_for, started_at=now
        )
        started.append(run)
        inserts.append(
            {
                "id": run.execution_id,
                "metric_id": slot.metric_id,
                "org_id": run.metric.org_id,
                "status": "running",
                "trigger": "schedule",
                "scheduled_for": slot.scheduled_for,
                "started_at": now,
            }
        )
    if inserts:
        conn.execute(_INSERT_RUNNING, inserts)
    return started


def finish_runs(
    db: Database,
    conn: Connection,
    finished: Sequence[FinishedRun],
    *,
    settings: Settings,
    claim_for_seconds: float | None = None,
) -> list[RunRecord]:
    """Store each run's outcome and evaluate its alerts, all in ``conn``'s transaction.

    A run that started with no alert is stored as evaluated unless an alert was enabled
    meanwhile, and is then evaluated here as well."""
    begin_async_commit(conn)
    at = utcnow()
    # Runs with alerts and a result are stored as evaluated in one statement, their
    # executions built from what is known (reading each back cost a statement, and on
    # PostgreSQL a round trip, per run); the rest one by one, the database deciding
    # whether they need evaluating.
    in_bulk = [i for i, item in enumerate(finished) if _bulk_finishable(item)]
    executions: list[Execution | None] = [None] * len(finished)
    bulk = _finish_evaluated(conn, [finished[i] for i in in_bulk], at)
    for i, execution in zip(in_bulk, bulk, strict=True):
        executions[i] = execution
    owed: list[tuple[Metric, Execution]] = []
    for i, item in enumerate(finished):
        run = item.run
        found = executions[i]
        if found is None:
            found = executions[i] = MetricStore(conn, run.metric.org_id).finish_execution(
                run.execution_id,
                status=item.status,
                result=item.result,
                error=item.error,
                value=item.value,
                completed_at=at,
                evaluated=True if run.has_alerts else "unless_alerts",
            )
        if run.has_alerts or found.evaluated_at is None:
            owed.append((run.metric, found))
    results = evaluate_group(db, conn, owed, settings=settings, claim_for_seconds=claim_for_seconds)
    if any(result.outbox for result in results):
        # Deliveries born claimed are sent as soon as this commits: nothing is sent on
        # the strength of a commit the WAL has not flushed.
        begin_sync_commit(conn)
    evaluated = iter(results)
    records = []
    for item, stored in zip(finished, executions, strict=True):
        assert stored is not None
        if item.run.has_alerts or stored.evaluated_at is None:
            evaluation = next(evaluated)
        else:
            observed = observe(stored, item.run.metric.selector)
            evaluation = EvaluationResult(stored.id, observed)
        records.append(RunRecord(stored, evaluation))
    return records


def _bulk_finishable(item: FinishedRun) -> bool:
    # A result of None is stored as JSON null by the typed path, as NULL by the bulk one.
    return item.run.has_alerts and item.run.started_at is not None and item.result is not None


def _finish_evaluated(
    conn: Connection, items: Sequence[FinishedRun], at: datetime
) -> list[Execution]:
    if not items:
        return []
    runs = [item.run for item in items]
    changed = update_columns(
        conn,
        metric_executions,
        ("id", "org_id"),
        {
            "id": [run.execution_id for run in runs],
            "org_id": [run.metric.org_id for run in runs],
            "status": [item.status for item in items],
            "result": [item.result for item in items],
            "value": [item.value for item in items],
            "error": [item.error for item in items],
            "completed_at": [at] * len(items),
            "evaluated_at": [at] * len(items),
        },
    )
    if changed != len(items):
        raise NotFound("execution", f"{len(items) - changed} of {len(items)} finished runs")
    executions = []
    for run, item in zip(runs, items, strict=True):
        assert run.started_at is not None  # _bulk_finishable
        execution = Execution.model_construct(
            id=run.execution_id,
            metric_id=run.metric.id,
            org_id=run.metric.org_id,
            status=item.status,
            trigger=run.trigger,
            scheduled_for=run.scheduled_for,
            started_at=run.started_at,
            completed_at=at,
            result=item.result,
            value=item.value,
            error=item.error,
            evaluated_at=at,
        )
        executions.append(execution)
    return executions


def finish_unevaluated(conn: Connection, item: FinishedRun) -> Execution:
    """Store a run's outcome alone, its evaluation still owed (the sweep's to retry)."""
    begin_async_commit(conn)
    return MetricStore(conn, item.run.metric.org_id).finish_execution(
        item.run.execution_id,
        status=item.status,
        result=item.result,
        error=item.error,
        value=item.value,
        evaluated=False,
    )


def begin_sync_commit(conn: Connection) -> None:
    """Undo ``begin_async_commit`` for the rest of ``conn``'s transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(_SYNC_COMMIT)


def begin_async_commit(conn: Connection) -> None:
    """Make ``conn``'s transaction commit without waiting for the WAL flush (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_ASYNC_COMMIT)


# On the event loop, through psycopg's async driver (PostgreSQL) ----------------------


async def start_run_native(
    pool: NativePool, metric_id: uuid.UUID, *, trigger: Trigger, scheduled_for: datetime | None
) -> StartedRun:
    """``start_run`` in one autocommitted statement on ``pool``."""
    execution_id = uuid.uuid4()
    params = _start_params(metric_id, execution_id, trigger, scheduled_for)
    row = await pool.fetch_one(_START_NATIVE, params)
    if row is None:
        raise NoResultFound(f"metric {metric_id} not found")
    run = _started(row, execution_id)
    return replace(
        run, scheduled_for=scheduled_for, started_at=params["started_at"], trigger=trigger
    )


async def finish_unless_alerts_native(pool: NativePool, item: FinishedRun) -> Execution:
    """Finish a run that started with no alert on its metric: stored as evaluated, unless
    an alert was enabled meanwhile (``evaluated_at`` is then left empty: the caller
    evaluates it). One autocommitted statement on ``pool``."""
    row = await pool.fetch_one(_FINISH_NATIVE, _finish_params(item))
    if row is None:
        raise NotFound("execution", str(item.run.execution_id))
    del row["flush"]
    return Execution.model_validate(row)


def finish_unless_alerts(conn: Connection, item: FinishedRun) -> Execution:
    """``finish_unless_alerts_native`` through SQLAlchemy, on ``conn`` (autocommit)."""
    row = conn.execute(_FINISH_UNLESS_ALERTS, _finish_params(item)).first()
    if row is None:
        raise NotFound("execution", str(item.run.execution_id))
    return row_to_execution(row)
