"""The distributed runtime's jobs: Tocsin's tasks on a Procrastinate blueprint.

Any number of ``tocsin worker`` processes (and ``tocsin serve`` unless ``--no-worker``)
run one Procrastinate app built from :func:`blueprint` (:mod:`tocsin.execution.distributed`).
They run the same task functions as the embedded runtime (:mod:`tocsin.execution.tasks`);
Procrastinate only decides who runs what, and when:

- ``tocsin.tick`` (periodic, every second; Procrastinate defers one job per second for
  the whole cluster) claims the due metrics and defers one ``tocsin.run_metric`` job per
  claimed slot, in the same transaction as the claim (:mod:`tocsin.execution.claim_runs`).
- ``tocsin.run_metric`` runs and evaluates one slot. Its ``lock`` (``metric:<id>``) keeps
  two runs of one metric from overlapping; its ``queueing_lock`` (same string) keeps at
  most one run waiting, so a slow metric skips slots instead of piling them up.
- ``tocsin.deliver`` drains the outbox; deferred after a run that created deliveries, and
  by a periodic safety net every 5 seconds (retries with backoff come due with no run).
- ``tocsin.sweep`` (every ``SWEEP_SECONDS``, as in the embedded runtime) finishes what
  crashed processes left in the tables.
- ``tocsin.silence`` (every second, as in the embedded runtime) records and evaluates the
  ``missing`` runs of metrics that heard nothing for their ``expect_every``
  (:mod:`tocsin.execution.silence`). Its own task, not the tick's work: a slow
  evaluation of a missing run never makes the next slots late. Two of its jobs running
  at once (a retried stalled job beside the next second's) are safe: each period is
  claimed by a conditional UPDATE.
- ``tocsin.prune`` (every ``PRUNE_SECONDS``, as in the embedded runtime) removes what
  retention lets go and keeps the coming months' history partitions ready
  (:mod:`tocsin.db.retention`).
- ``tocsin.retry_stalled_jobs`` (every 5 seconds) is Procrastinate's stalled-jobs recipe:
  jobs of workers whose heartbeat stopped are retried. A retried ``run_metric`` finishes
  the execution the dead worker left (failed, then evaluated) rather than running the
  slot twice.
- Upkeep (:mod:`tocsin.execution.upkeep`): ``tocsin.analyze_queue`` (every 10 seconds)
  keeps the planner statistics of the job table fresh, and of Tocsin's tables that
  outgrew theirs; the tick VACUUMs the job table; ``tocsin.prune_jobs`` (hourly) drops
  failed jobs after a week (succeeded jobs are deleted as they finish).

Runtime context: the tasks need a :class:`Database`, the run store on PostgreSQL (with
its pool of native async driver connections, which a run's two statements use on the
event loop: :mod:`tocsin.execution.pg_runs`), the
:class:`Settings` and one shared :class:`HttpClient` (pooled connections, the SSRF
guard). The worker creates them once when it starts and hands them to every job as a
:class:`Runtime` in Procrastinate's ``additional_context`` (under ``RUNTIME_KEY``);
each task reads it with :func:`runtime`. A job run by a worker without one fails loudly
instead of building its own clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import procrastinate
from procrastinate import JobContext, exceptions
from procrastinate.jobs import Job, Status
from procrastinate.manager import JobManager
from sqlalchemy import select
from sqlalchemy.exc import NoResultFound

from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.abandoned import fail_abandoned_slot
from tocsin.execution.claim_runs import CLAIM_BATCH, IN_TRANSACTION, claim_and_defer
from tocsin.execution.pg_runs import PostgresRunStore
from tocsin.execution.recorder import RunRecorder
from tocsin.execution.scheduler import evaluate_execution
from tocsin.execution.tasks import (
    PRUNE_SECONDS,
    SILENCE_SECONDS,
    SWEEP_SECONDS,
    deliver_pending,
    prune_old_rows,
    record_silences,
    run_and_evaluate,
    sweep,
)
from tocsin.execution.upkeep import (
    analyse_queue_if_outgrown,
    analyze_outgrown_tables,
    vacuum_job_queue,
)
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.worker")

# The names the job table stores: jobs queued by an older worker must still find them.
TICK = "tocsin.tick"
RUN_METRIC = "tocsin.run_metric"
DELIVER = "tocsin.deliver"
DELIVER_QUEUEING_LOCK = "tocsin.deliver"
SILENCE = "tocsin.silence"
# Jobs run by priority, then in order. Control jobs go before the backlog of runs: a
# tick stuck behind a thousand queued runs would make every later slot late too.
PRIORITY_CONTROL = 100
PRIORITY_DELIVERY = 10
# A tick stops claiming after this long, so the next second's tick is not held up.
TICK_BUDGET_SECONDS = 0.8
RUNTIME_KEY = "tocsin"


@dataclass(frozen=True)
class Runtime:
    db: Database
    settings: Settings
    http: HttpClient
    stalled_after_seconds: float
    runs: PostgresRunStore
    recorder: RunRecorder


def runtime(context: JobContext) -> Runtime:
    found = context.additional_context.get(RUNTIME_KEY)
    if not isinstance(found, Runtime):
        raise RuntimeError(
            "no Tocsin worker runtime in this job's context: jobs run only under run_worker()"
        )
    return found


# The tasks --------------------------------------------------------------------------


async def run_metric(context: JobContext, metric_id: str, scheduled_for: str | None = None) -> None:
    rt = runtime(context)
    ident = uuid.UUID(metric_id)
    slot = datetime.fromisoformat(scheduled_for) if scheduled_for else None
    if context.job.attempts > 0 and slot is not None:
        # Only Procrastinate's stalled-jobs recovery retries this task: a worker died
        # during this slot. Finish what it left instead of running the slot a second
        # time; a slot it never started is run as usual.
        orphan = await asyncio.to_thread(fail_abandoned_slot, rt.db, ident, slot)
        if orphan is not None:
            await _finish_orphan(context.app, rt, orphan)
            return
    try:
        async with rt.runs.held():
            outcome = await run_and_evaluate(
                rt.db,
                rt.settings,
                rt.http,
                ident,
                scheduled_for=slot,
                runs=rt.runs,
                write=rt.recorder.record,
            )
    except NoResultFound:
        if await asyncio.to_thread(_metric_exists, rt.db, ident):
            raise
        logger.info("metric %s was deleted before its run for %s", metric_id, scheduled_for)
        return
    execution = outcome.execution
    logger.info(
        "ran metric %s for %s: execution %s %s, %d alerts evaluated",
        metric_id,
        scheduled_for,
        execution.id,
        execution.status,
        len(outcome.evaluation.evaluated),
    )
    if outcome.evaluation.delivery_ids and not outcome.evaluation.outbox:
        # Evaluated apart, so not born claimed by the recorder: a delivery job sends them.
        await defer_delivery(context.app)


async def tick(context: JobContext, timestamp: int) -> int:
    rt = runtime(context)
    run_metric_task = context.app.tasks[RUN_METRIC]
    deadline = time.monotonic() + TICK_BUDGET_SECONDS
    deferred = 0
    analysed = False
    while True:
        claimed, batch = await asyncio.to_thread(
            claim_and_defer, rt.db, run_metric_task, IN_TRANSACTION
        )
        deferred += batch
        if not analysed and batch:
            analysed = await analyse_queue_if_outgrown(context.app, deferred)
        if claimed < CLAIM_BATCH or time.monotonic() > deadline:
            break
    await asyncio.to_thread(vacuum_job_queue, rt.db)
    return deferred


async def deliver(context: JobContext) -> int:
    rt = runtime(context)
    return await deliver_pending(rt.db, rt.settings, rt.http)


async def deliver_due(context: JobContext, timestamp: int) -> int:
    rt = runtime(context)
    return await deliver_pending(rt.db, rt.settings, rt.http)


async def sweep_task(context: JobContext, timestamp: int) -> int:
    rt = runtime(context)
    return await sweep(rt.db, rt.settings)


async def silence_task(context: JobContext, timestamp: int) -> int:
    rt = runtime(context)
    outcomes = await record_silences(rt.db, rt.settings)
    if any(o.evaluation.delivery_ids for o in outcomes):
        # Evaluated in the claim's transaction, not born claimed: a delivery job sends them.
        await defer_delivery(context.app)
    return len(outcomes)


async def prune_task(context: JobContext, timestamp: int) -> int:
    rt = runtime(context)
    return (await prune_old_rows(rt.db, rt.settings)).rows


async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=runtime(context).stalled_after_seconds
    )
    retried = 0
    for job in stalled:
        retried += await _retry_stalled(manager, job)
    return retried


async def analyze_queue(context: JobContext, timestamp: int) -> None:
    # The job table swings from empty to thousands of rows within seconds (a burst of
    # due metrics). On stale statistics PostgreSQL plans Procrastinate's fetch (its
    # per-lock NOT EXISTS) as a scan per candidate: measured 1.1 s per fetch with
    # 10,000 queued jobs, 0.3 ms once analysed. Autovacuum is minutes late for that.
    await context.app.connector.execute_query_async("ANALYZE procrastinate_jobs")
    analysed = await asyncio.to_thread(analyze_outgrown_tables, runtime(context).db)
    if analysed:
        logger.info("refreshed the planner statistics of %s", ", ".join(analysed))


async def prune_jobs(context: JobContext, timestamp: int) -> None:
    # Succeeded jobs are deleted as they finish; failed ones stay a week to be read.
    await context.app.job_manager.delete_old_jobs(
        nb_hours=7 * 24, include_failed=True, include_cancelled=True, include_aborted=True
    )


def blueprint() -> procrastinate.Blueprint:
    """The tasks on a new blueprint, for one app: adding a blueprint's tasks to an app
    binds them to it, so every app gets tasks of its own."""
    bp = procrastinate.Blueprint()
    bp.task(name=RUN_METRIC, pass_context=True)(run_metric)
    bp.periodic(cron="* * * * * *", periodic_id="every-second", queueing_lock=TICK)(
        bp.task(name=TICK, priority=PRIORITY_CONTROL, pass_context=True)(tick)
    )
    bp.task(
        name=DELIVER,
        queueing_lock=DELIVER_QUEUEING_LOCK,
        priority=PRIORITY_DELIVERY,
        pass_context=True,
    )(deliver)
    # A delivery whose retry comes due, or whose worker died mid-send (its lease runs
    # out), has no run to defer a delivery job for it. Same queueing lock as
    # ``deliver``: one drain waiting is enough.
    bp.periodic(cron="* * * * * */5", periodic_id="every-5s", queueing_lock=DELIVER_QUEUEING_LOCK)(
        bp.task(name="tocsin.deliver_due", priority=PRIORITY_DELIVERY, pass_context=True)(
            deliver_due
        )
    )
    bp.periodic(
        cron=f"* * * * * */{SWEEP_SECONDS}",
        periodic_id=f"every-{SWEEP_SECONDS}s",
        queueing_lock="tocsin.sweep",
    )(bp.task(name="tocsin.sweep", priority=PRIORITY_CONTROL, pass_context=True)(sweep_task))
    bp.periodic(
        cron=f"* * * * * */{SILENCE_SECONDS}",
        periodic_id=f"every-{SILENCE_SECONDS}s",
        queueing_lock=SILENCE,
    )(bp.task(name=SILENCE, priority=PRIORITY_CONTROL, pass_context=True)(silence_task))
    bp.periodic(
        cron=f"*/{PRUNE_SECONDS // 60} * * * *",
        periodic_id=f"every-{PRUNE_SECONDS}s",
        queueing_lock="tocsin.prune",
    )(bp.task(name="tocsin.prune", priority=PRIORITY_CONTROL, pass_context=True)(prune_task))
    bp.periodic(cron="* * * * * */5", periodic_id="every-5s", queueing_lock="tocsin.retry_stalled")(
        bp.task(name="tocsin.retry_stalled_jobs", pass_context=True, priority=PRIORITY_CONTROL)(
            retry_stalled_jobs
        )
    )
    bp.periodic(
        cron="* * * * * */10", periodic_id="every-10s", queueing_lock="tocsin.analyze_queue"
    )(
        bp.task(name="tocsin.analyze_queue", pass_context=True, priority=PRIORITY_CONTROL)(
            analyze_queue
        )
    )
    bp.periodic(cron="17 * * * *", periodic_id="hourly", queueing_lock="tocsin.prune_jobs")(
        bp.task(name="tocsin.prune_jobs", pass_context=True)(prune_jobs)
    )
    return bp


# What the tasks share -----------------------------------------------------------------


async def defer_delivery(app: procrastinate.App) -> None:
    """Wake a worker to drain the outbox (nothing to do if a drain is already waiting)."""
    with contextlib.suppress(exceptions.AlreadyEnqueued):
        await app.configure_task(DELIVER, allow_unknown=False).defer_async()


def _metric_exists(db: Database, metric_id: uuid.UUID) -> bool:
    with db.connect() as conn:
        found = conn.execute(select(metrics.c.id).where(metrics.c.id == metric_id)).first()
        return found is not None


async def _finish_orphan(app: procrastinate.App, rt: Runtime, execution: Execution) -> None:
    if execution.evaluated_at is not None:
        return
    logger.warning(
        "execution %s of metric %s was cut off by a dead worker: recorded as %s",
        execution.id,
        execution.metric_id,
        execution.status,
    )
    evaluation = await evaluate_execution(rt.db, execution, settings=rt.settings)
    if evaluation.delivery_ids:
        await defer_delivery(app)


async def _retry_stalled(manager: JobManager, job: Job) -> int:
    try:
        await manager.retry_job(job)
        logger.warning("retrying job %s, whose worker stopped responding", job.call_string)
        return 1
    except exceptions.UniqueViolation:
        # The same queueing lock already has a job waiting (the next slot of that metric,
        # the next drain): that one does the work; the dead one is closed as failed and
        # anything it left in Tocsin's tables goes to the sweep.
        await manager.finish_job(job, status=Status.FAILED, delete_job=False)
        logger.warning(
            "closing job %s, whose worker stopped responding: a newer one is queued",
            job.call_string,
        )
        return 0
    except exceptions.ConnectorException as exc:
        # Another recovery pass got to it first (it is no longer "doing").
        logger.info("not retrying job %s: %s", job.call_string, exc.__cause__ or exc)
        return 0
