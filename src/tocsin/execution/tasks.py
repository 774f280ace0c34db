"""The task functions both runtimes run: the embedded asyncio runner on SQLite and the
Procrastinate workers on PostgreSQL call exactly these."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import EvaluationResult
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.retention import Pruned, Retention, prepare_partitions, prune
from tocsin.execution.abandoned import fail_abandoned_executions
from tocsin.execution.run_store import FinishedRun, RunStore
from tocsin.execution.scheduler import (
    Writer,
    evaluate_execution,
    execute,
    record,
    run_store_for,
    unevaluated_executions,
)
from tocsin.execution.silence import record_missing_runs
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.settings import Settings
from tocsin.telemetry import record_execution, record_scheduler_lateness

logger = logging.getLogger("tocsin.tasks")

# An execution still "running" this long after its source's timeout belongs to a process
# that died.
ABANDONED_GRACE = timedelta(seconds=10)
# A finished execution not evaluated this long after completing was cut off by a crash.
UNEVALUATED_AFTER = timedelta(seconds=30)
# How often either runtime sweeps (the embedded loop's wait; the workers' periodic job,
# whose cron step keeps an even cadence only for a divisor of 60).
SWEEP_SECONDS = 10
# How often either runtime prunes what retention lets go, and for how long at most.
PRUNE_SECONDS = 600
PRUNE_BUDGET_SECONDS = 60.0
# How often either runtime looks for silent metrics (``expect_every``): the shortest
# period there is, so a missing run is at most this late.
SILENCE_SECONDS = 1


@dataclass(frozen=True)
class RunOutcome:
    execution: Execution
    evaluation: EvaluationResult


async def run_and_evaluate(
    db: Database,
    settings: Settings,
    http: HttpClient,
    metric_id: uuid.UUID,
    *,
    scheduled_for: datetime | None,
    runs: RunStore | None = None,
    write: Writer | None = None,
) -> RunOutcome:
    """One scheduled run: execute the metric, then evaluate its alerts. ``runs``: the
    runtime's run store (else one for this run alone); ``write``: its recorder
    (``recorder.RunRecorder.record``: group commit, deliveries sent born claimed)."""
    started = utcnow()
    if scheduled_for is not None:
        record_scheduler_lateness((started - scheduled_for).total_seconds())
    store = runs or run_store_for(db, settings)
    try:
        run = await store.start(metric_id, trigger="schedule", scheduled_for=scheduled_for)
        finished = await execute(db, run, settings=settings, http=http)
        return await conclude(db, settings, store, finished, write)
    finally:
        if runs is None:
            await store.close()


async def conclude(
    db: Database,
    settings: Settings,
    runs: RunStore,
    finished: FinishedRun,
    write: Writer | None = None,
) -> RunOutcome:
    """Record a finished run with its evaluation (``scheduler.record``), evaluating it
    apart when that could not be done together."""
    stored = await record(runs, finished, write)
    execution = stored.execution
    ran = (execution.completed_at or utcnow()) - execution.started_at
    record_execution(execution.status, ran.total_seconds())
    evaluation = stored.evaluation
    if evaluation is None:
        metric = finished.run.metric
        evaluation = await evaluate_execution(db, execution, settings=settings, metric=metric)
    return RunOutcome(execution, evaluation)


async def deliver_pending(db: Database, settings: Settings, http: HttpClient) -> int:
    """Send everything that is due in the outbox."""
    return await Deliverer(db, settings, http).drain()


async def sweep(db: Database, settings: Settings) -> int:
    """Finish what crashed processes left: fail abandoned runs, evaluate what was not."""
    failed = await asyncio.to_thread(fail_abandoned_executions, db, grace=ABANDONED_GRACE)
    if failed:
        logger.warning("marked %d abandoned executions as failed", len(failed))
    owed = await asyncio.to_thread(unevaluated_executions, db, older_than=UNEVALUATED_AFTER)
    for execution in owed:
        logger.warning("evaluating execution %s, which a crash left unevaluated", execution.id)
    for execution in [*failed, *owed]:
        await evaluate_execution(db, execution, settings=settings)
    return len(failed) + len(owed)


async def record_silences(db: Database, settings: Settings) -> list[RunOutcome]:
    """The dead-man switch's pass (``execution.silence``): a ``missing`` run, evaluated as
    no data, for each metric that heard nothing for its ``expect_every`` plus grace. The
    runs whose evaluation failed are not returned: the sweep evaluates them."""
    recorded = await asyncio.to_thread(record_missing_runs, db, settings)
    outcomes = []
    for found in recorded:
        execution = found.execution
        record_execution(execution.status, 0.0)
        logger.info(
            "metric %s: missing run %s: %s", execution.metric_id, execution.id, execution.error
        )
        if found.evaluation is not None:
            outcomes.append(RunOutcome(execution, found.evaluation))
    return outcomes


async def prune_old_rows(db: Database, settings: Settings) -> Pruned:
    """Retention's pass (``tocsin.db.retention``), with the coming months' partitions
    made ready first on PostgreSQL."""
    try:
        made = await asyncio.to_thread(prepare_partitions, db)
    except DBAPIError as exc:
        # A lock it could not get within its timeout: the next pass tries again, and the
        # prune below does not depend on it.
        logger.warning("could not prepare history partitions: %s", exc.orig or exc)
    else:
        if made:
            logger.info("created history partitions %s", ", ".join(made))
    pruned = await asyncio.to_thread(
        prune, db, Retention.of(settings), budget_seconds=PRUNE_BUDGET_SECONDS
    )
    if pruned.rows or pruned.partitions:
        logger.info(
            "retention removed %d quiet evaluations, %d other history rows, %d deliveries, "
            "%d executions%s%s",
            pruned.quiet,
            pruned.transitions,
            pruned.deliveries,
            pruned.executions,
            f"; dropped {', '.join(pruned.partitions)}" if pruned.partitions else "",
            "" if pruned.finished else "; the rest in the next pass",
        )
    return pruned
