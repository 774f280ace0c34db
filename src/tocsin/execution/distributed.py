"""The distributed runtime: Procrastinate workers on PostgreSQL.

Any number of ``tocsin worker`` processes (and ``tocsin serve`` unless ``--no-worker``)
run one Procrastinate app. They run the same task functions as the embedded runtime
(:mod:`tocsin.execution.tasks`); Procrastinate only decides who runs what, and when:

- ``tocsin.tick`` (periodic, every second; Procrastinate defers one job per second for
  the whole cluster) claims the due metrics with :func:`claim_due_metrics` and defers one
  ``tocsin.run_metric`` job per claimed slot, in the same transaction as the claim.
- ``tocsin.run_metric`` runs and evaluates one slot. Its ``lock`` (``metric:<id>``) keeps
  two runs of one metric from overlapping; its ``queueing_lock`` (same string) keeps at
  most one run waiting, so a slow metric skips slots instead of piling them up.
- ``tocsin.deliver`` drains the outbox; deferred after a run that created deliveries, and
  by a periodic safety net every 5 seconds (retries with backoff come due with no run).
- ``tocsin.sweep`` (every ``SWEEP_SECONDS``, as in the embedded runtime) finishes what
  crashed processes left in the tables.
- ``tocsin.retry_stalled_jobs`` (every 5 seconds) is Procrastinate's stalled-jobs recipe:
  jobs of workers whose heartbeat stopped are retried. A retried ``run_metric`` finishes
  the execution the dead worker left (failed, then evaluated) rather than running the
  slot twice.
- Upkeep (:mod:`tocsin.execution.upkeep`): ``tocsin.analyze_queue`` (every 10 seconds)
  keeps the planner statistics of the job table fresh, and of Tocsin's tables that
  outgrew theirs; the tick VACUUMs the job table; ``tocsin.prune_jobs`` (hourly) drops
  failed jobs after a week (succeeded jobs are deleted as they finish).

Runtime context: the tasks need a :class:`Database` (with its ``native`` pool of async
driver connections, which a run's two statements use on the event loop), the
:class:`Settings` and one shared :class:`HttpClient` (pooled connections, the SSRF
guard). :func:`run_worker` creates them once per process when the worker starts,
publishes them in the module-level ``_runtime`` that the tasks read through
:func:`runtime`, and tears them down when the worker stops. A process runs at most one
worker, so a module-level slot is enough; a job that reaches a process without one fails
loudly instead of building its own clients.

Tuning comes from ``TOCSIN_WORKER_*`` variables (:class:`WorkerTuning`).

Supabase's transaction pooler (port 6543) supports neither LISTEN/NOTIFY nor prepared
statements across transactions: run workers with ``--no-listen-notify`` there (they poll
for jobs every ``TOCSIN_WORKER_POLL_SECONDS``, default 1 s without LISTEN), which also
turns off psycopg's automatic statement preparation on Procrastinate's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext, exceptions
from procrastinate.jobs import DeleteJobCondition, Job, Status
from procrastinate.manager import JobManager
from procrastinate.schema import SchemaManager
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoResultFound

from tocsin.db.database import Database
from tocsin.db.engine import normalize_url
from tocsin.db.liveness import idle_checked_pool
from tocsin.db.native import open_native_pool
from tocsin.db.schema import metrics
from tocsin.execution.abandoned import fail_abandoned_slot
from tocsin.execution.backoff import Backoff
from tocsin.execution.scheduler import claim_due_metrics, evaluate_execution
from tocsin.execution.tasks import SWEEP_SECONDS, deliver_pending, run_and_evaluate, sweep
from tocsin.execution.upkeep import (
    analyse_queue_if_outgrown,
    analyze_outgrown_tables,
    vacuum_job_queue,
)
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.worker")

TICK = "tocsin.tick"
RUN_METRIC = "tocsin.run_metric"
DELIVER = "tocsin.deliver"
DELIVER_QUEUEING_LOCK = "tocsin.deliver"
CLAIM_BATCH = 500
# Jobs run by priority, then in order. Control jobs go before the backlog of runs: a
# tick stuck behind a thousand queued runs would make every later slot late too.
PRIORITY_CONTROL = 100
PRIORITY_DELIVERY = 10
# A tick stops claiming after this long, so the next second's tick is not held up.
TICK_BUDGET_SECONDS = 0.8
# Serialises concurrent `tocsin db upgrade` runs around the "is the schema there?" check.
_SCHEMA_LOCK_KEY = 0x70C5_1A_0001


class WorkerTuning(BaseSettings):
    """``TOCSIN_WORKER_*``: how fast a dead worker is noticed, how long a stop waits."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_WORKER_", extra="ignore")

    heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    # A worker silent for this long is dead: its jobs are retried by another worker.
    stalled_after_seconds: float = Field(default=30.0, gt=0, le=3600)
    # On SIGTERM/Ctrl-C running jobs get this long to finish before they are cancelled.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    # How often to look for jobs without a notification; default 5 s with LISTEN (a
    # fallback only), 1 s without it (the only way jobs are found).
    poll_seconds: float | None = Field(default=None, gt=0, le=300)

    @model_validator(mode="after")
    def _stall_outlasts_heartbeat(self) -> WorkerTuning:
        if self.stalled_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                "stalled_after_seconds must be at least twice heartbeat_seconds, or "
                "live workers would be taken for dead"
            )
        return self


@dataclass(frozen=True)
class Runtime:
    db: Database
    settings: Settings
    http: HttpClient
    tuning: WorkerTuning


_runtime: Runtime | None = None


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError(
            "no Tocsin worker runtime in this process: jobs run only under run_worker()"
        )
    return _runtime


# Connections and schema ------------------------------------------------------------


def libpq_conninfo(database_url: str) -> str:
    """The libpq URI for a database URL in any form Tocsin accepts (psycopg wants no
    SQLAlchemy driver suffix)."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() != "postgresql":
        raise ValueError("the distributed runtime needs PostgreSQL")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def has_procrastinate_schema(database_url: str) -> bool:
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        return row is not None and row[0] is not None


def analyze_job_queue(database_url: str) -> None:
    """Fresh planner statistics for the job table before the first fetch (see
    ``analyze_queue``); a worker starting into a backlog otherwise fetches on a stale
    plan until the first periodic ANALYZE."""
    try:
        with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as conn:
            conn.execute("ANALYZE procrastinate_jobs")
    except psycopg.Error as exc:
        # Not fatal: the periodic task analyses it again within seconds.
        logger.warning("could not analyse the job queue at start-up: %s", exc)


def apply_procrastinate_schema(database_url: str) -> bool:
    """Create Procrastinate's tables and functions unless they exist, and Tocsin's index
    on them (``JOB_LOCK_INDEX``) unless it exists; True if it created the tables.

    Procrastinate's own schema is not part of Tocsin's Alembic tree: it comes with the
    installed Procrastinate version. Upgrading Procrastinate across schema changes needs
    its migrations (``procrastinate/sql/migrations``), which this does not apply.
    """
    with psycopg.connect(libpq_conninfo(database_url)) as conn:
        # Two upgrades at once would both see no table and the second would fail.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        created = row is None or row[0] is None
        if created:
            # No parameters: the schema's '%' signs must reach the server untouched.
            conn.execute(SchemaManager.get_schema())
        # Also on a queue created before Tocsin added it.
        conn.execute(JOB_LOCK_INDEX)
    return created


# Procrastinate's fetch skips a queued job whose ``lock`` another queued or running job
# holds, looking the lock up for each candidate. Its own index for that is on (id,
# lock), where a lock is no prefix: every fetch read the whole index (EXPLAIN ANALYZE
# with 10,000 metric runs queued, a burst: the check 0.18 ms, the fetch 0.23; with this
# index 0.005 and 0.04), and a worker fetches one job at a time (upstream: procrastinate
# issues #393, #1242). Only jobs with a lock (metric runs) are in it, so the other jobs
# pay nothing to keep it.
JOB_LOCK_INDEX = (
    "CREATE INDEX IF NOT EXISTS tocsin_procrastinate_jobs_lock_idx "
    "ON procrastinate_jobs (lock) "
    "WHERE status IN ('todo', 'doing') AND lock IS NOT NULL"
)


# The app ---------------------------------------------------------------------------


class _JoinedTransaction(Database):
    """``db`` whose ``begin()`` joins a transaction already open on ``conn``.

    ``claim_due_metrics`` opens its own transaction; handing it this lets its UPDATE of
    ``next_run_at`` commit together with the jobs deferred for the claimed slots.
    """

    def __init__(self, db: Database, conn: Connection) -> None:
        self.url = db.url
        self.engine = db.engine
        self._conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        yield self._conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self._conn


def make_app(
    database_url: str, *, pool_max_size: int = 10, pooler_safe: bool = False
) -> procrastinate.App:
    """The Procrastinate app with Tocsin's tasks. ``pooler_safe`` disables prepared
    statements, which a transaction-mode pooler (Supabase on 6543) cannot keep."""
    connect_kwargs: dict[str, Any] = {"prepare_threshold": None} if pooler_safe else {}
    connector = procrastinate.PsycopgConnector(
        pool_factory=idle_checked_pool,
        conninfo=libpq_conninfo(database_url),
        min_size=1,
        max_size=max(2, pool_max_size),
        kwargs=connect_kwargs,
    )
    app = procrastinate.App(connector=connector)
    _register_tasks(app)
    return app


def _register_tasks(app: procrastinate.App) -> None:
    # Deferring inside the claim's transaction goes through the caller's own psycopg
    # connection (Procrastinate's ``connection=`` option). The app's connector is async
    # and would wrap a sync connection in async calls, so a never-opened sync connector
    # does it: with an explicit connection it never touches its own pool.
    in_transaction = JobManager(procrastinate.SyncPsycopgConnector())

    @app.task(name=RUN_METRIC, pass_context=True)
    async def run_metric(
        context: JobContext, metric_id: str, scheduled_for: str | None = None
    ) -> None:
        rt = runtime()
        ident = uuid.UUID(metric_id)
        slot = datetime.fromisoformat(scheduled_for) if scheduled_for else None
        if context.job.attempts > 0 and slot is not None:
            # Only Procrastinate's stalled-jobs recovery retries this task: a worker
            # died during this slot. Finish what it left instead of running the slot a
            # second time; a slot it never started is run as usual.
            orphan = await asyncio.to_thread(fail_abandoned_slot, rt.db, ident, slot)
            if orphan is not None:
                await _finish_orphan(context.app, rt, orphan)
                return
        try:
            outcome = await run_and_evaluate(rt.db, rt.settings, rt.http, ident, scheduled_for=slot)
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
        if outcome.evaluation.delivery_ids:
            await defer_delivery(context.app)

    @app.periodic(cron="* * * * * *", periodic_id="every-second", queueing_lock=TICK)
    @app.task(name=TICK, priority=PRIORITY_CONTROL, pass_context=True)
    async def tick(context: JobContext, timestamp: int) -> int:
        rt = runtime()
        deadline = time.monotonic() + TICK_BUDGET_SECONDS
        deferred = 0
        analysed = False
        while True:
            claimed, batch = await asyncio.to_thread(
                _claim_and_defer, rt.db, run_metric, in_transaction
            )
            deferred += batch
            if not analysed and batch:
                analysed = await analyse_queue_if_outgrown(context.app, deferred)
            if claimed < CLAIM_BATCH or time.monotonic() > deadline:
                break
        await asyncio.to_thread(vacuum_job_queue, rt.db)
        return deferred

    @app.task(name=DELIVER, queueing_lock=DELIVER_QUEUEING_LOCK, priority=PRIORITY_DELIVERY)
    async def deliver() -> int:
        rt = runtime()
        return await deliver_pending(rt.db, rt.settings, rt.http)

    # A delivery whose retry comes due, or whose worker died mid-send (its lease runs
    # out), has no run to defer a delivery job for it. Same queueing lock as
    # ``deliver``: one drain waiting is enough.
    @app.periodic(cron="* * * * * */5", periodic_id="every-5s", queueing_lock=DELIVER_QUEUEING_LOCK)
    @app.task(name="tocsin.deliver_due", priority=PRIORITY_DELIVERY)
    async def deliver_due(timestamp: int) -> int:
        rt = runtime()
        return await deliver_pending(rt.db, rt.settings, rt.http)

    @app.periodic(
        cron=f"* * * * * */{SWEEP_SECONDS}",
        periodic_id=f"every-{SWEEP_SECONDS}s",
        queueing_lock="tocsin.sweep",
    )
    @app.task(name="tocsin.sweep", priority=PRIORITY_CONTROL)
    async def sweep_task(timestamp: int) -> int:
        rt = runtime()
        return await sweep(rt.db, rt.settings)

    @app.periodic(
        cron="* * * * * */5", periodic_id="every-5s", queueing_lock="tocsin.retry_stalled"
    )
    @app.task(name="tocsin.retry_stalled_jobs", pass_context=True, priority=PRIORITY_CONTROL)
    async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
        manager = context.app.job_manager
        stalled = await manager.get_stalled_jobs(
            seconds_since_heartbeat=runtime().tuning.stalled_after_seconds
        )
        retried = 0
        for job in stalled:
            retried += await _retry_stalled(manager, job)
        return retried

    @app.periodic(
        cron="* * * * * */10", periodic_id="every-10s", queueing_lock="tocsin.analyze_queue"
    )
    @app.task(name="tocsin.analyze_queue", pass_context=True, priority=PRIORITY_CONTROL)
    async def analyze_queue(context: JobContext, timestamp: int) -> None:
        # The job table swings from empty to thousands of rows within seconds (a burst of
        # due metrics). On stale statistics PostgreSQL plans Procrastinate's fetch (its
        # per-lock NOT EXISTS) as a scan per candidate: measured 1.1 s per fetch with
        # 10,000 queued jobs, 0.3 ms once analysed. Autovacuum is minutes late for that.
        await context.app.connector.execute_query_async("ANALYZE procrastinate_jobs")
        analysed = await asyncio.to_thread(analyze_outgrown_tables, runtime().db)
        if analysed:
            logger.info("refreshed the planner statistics of %s", ", ".join(analysed))

    @app.periodic(cron="17 * * * *", periodic_id="hourly", queueing_lock="tocsin.prune_jobs")
    @app.task(name="tocsin.prune_jobs", pass_context=True)
    async def prune_jobs(context: JobContext, timestamp: int) -> None:
        # Succeeded jobs are deleted as they finish; failed ones stay a week to be read.
        await context.app.job_manager.delete_old_jobs(
            nb_hours=7 * 24, include_failed=True, include_cancelled=True, include_aborted=True
        )


async def defer_delivery(app: procrastinate.App) -> None:
    """Wake a worker to drain the outbox (nothing to do if a drain is already waiting)."""
    with contextlib.suppress(exceptions.AlreadyEnqueued):
        await app.configure_task(DELIVER, allow_unknown=False).defer_async()


def _claim_and_defer(
    db: Database, run_metric: procrastinate.tasks.Task[Any, Any, Any], jobs: JobManager
) -> tuple[int, int]:
    """Claim due slots and defer their runs in one transaction: a crash in between can
    neither lose a claimed slot nor defer a run for an unclaimed one."""
    with db.engine.begin() as conn:
        due = claim_due_metrics(_JoinedTransaction(db, conn), limit=CLAIM_BATCH)
        if not due:
            return 0, 0
        raw = conn.connection.driver_connection
        batch = [
            run_metric.configure(
                lock=f"metric:{d.metric_id}",
                queueing_lock=f"metric:{d.metric_id}",
                task_kwargs={
                    "metric_id": str(d.metric_id),
                    "scheduled_for": d.scheduled_for.isoformat(),
                },
            ).job
            for d in due
        ]
        # A savepoint per attempt: a queueing-lock conflict aborts only the INSERT, not
        # the claim. The whole batch first; one by one only when a metric already has a
        # run waiting (its slot is then skipped: never two runs queued for a metric).
        try:
            with conn.begin_nested():
                jobs.batch_defer_jobs(batch, connection=raw)
            return len(due), len(batch)
        except exceptions.AlreadyEnqueued:
            pass
        deferred = 0
        for job in batch:
            try:
                with conn.begin_nested():
                    jobs.defer_job(job, connection=raw)
                deferred += 1
            except exceptions.AlreadyEnqueued:
                logger.info(
                    "metric %s: skipping the slot at %s, a run is already waiting",
                    job.task_kwargs["metric_id"],
                    job.task_kwargs["scheduled_for"],
                )
        return len(due), deferred


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


# Running a worker ------------------------------------------------------------------


async def run_worker(
    database_url: str,
    settings: Settings,
    *,
    concurrency: int,
    listen_notify: bool,
    stop: asyncio.Event | None = None,
    tuning: WorkerTuning | None = None,
) -> None:
    """Run a Procrastinate worker, with the periodic tasks, until ``stop`` is set.

    On ``stop`` the worker takes no new jobs and gives running ones
    ``TOCSIN_WORKER_SHUTDOWN_GRACE_SECONDS`` before cancelling them (a cancelled run is
    finished by the sweep). A lost database connection stops a Procrastinate worker; this
    starts a fresh one after a backoff (1 s doubling to 30 s), so the process rides out
    a database restart.
    """
    global _runtime
    if _runtime is not None:
        raise RuntimeError("a Tocsin worker is already running in this process")
    stop = stop or asyncio.Event()
    tuning = tuning or WorkerTuning()
    app = make_app(
        database_url, pool_max_size=min(concurrency + 4, 20), pooler_safe=not listen_notify
    )
    poll = tuning.poll_seconds or (5.0 if listen_notify else 1.0)
    options: dict[str, Any] = {
        "name": f"tocsin@{socket.gethostname()}:{os.getpid()}",
        "concurrency": concurrency,
        "listen_notify": listen_notify,
        "fetch_job_polling_interval": poll,
        "abort_job_polling_interval": max(poll, 5.0),
        "shutdown_graceful_timeout": tuning.shutdown_grace_seconds,
        # Signals belong to the caller (the CLI, or uvicorn under `tocsin serve`).
        "install_signal_handlers": False,
        "update_heartbeat_interval": tuning.heartbeat_seconds,
        "stalled_worker_timeout": tuning.stalled_after_seconds,
        "delete_jobs": DeleteJobCondition.SUCCESSFUL,
    }
    db = Database(database_url)
    backoff = Backoff()
    try:
        async with (
            HttpClient(settings) as http,
            open_native_pool(
                libpq_conninfo(database_url),
                max_size=concurrency + 2,
                pooler_safe=not listen_notify,
            ) as native,
        ):
            db.native = native
            _runtime = Runtime(db=db, settings=settings, http=http, tuning=tuning)
            await asyncio.to_thread(analyze_job_queue, database_url)
            while not stop.is_set():
                began = time.monotonic()
                attempt = asyncio.create_task(_work(app, options))
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    # Cancelling run_worker_async is Procrastinate's graceful stop.
                    attempt.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await attempt
                    break
                stopping.cancel()
                error = attempt.exception()
                # A worker that ran a good while was healthy: this failure starts over.
                if time.monotonic() - began > 60:
                    backoff.succeeded()
                delay = backoff.failed()
                logger.warning(
                    "worker stopped (%s); starting again in %.0f s",
                    f"{type(error).__name__}: {error}" if error else "its connection was lost",
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
    finally:
        _runtime = None
        db.native = None
        db.dispose()


async def _work(app: procrastinate.App, options: dict[str, Any]) -> None:
    async with app.open_async():
        await app.run_worker_async(**options)
