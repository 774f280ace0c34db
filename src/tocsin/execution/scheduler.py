"""``run_metric_execution``: a run's steps (start, execute its source, record), which
both runtimes compose.

The same functions run in the embedded runtime (an asyncio loop on SQLite) and in
Procrastinate workers on PostgreSQL. The database is the source of truth: a due metric is
a row with ``next_run_at`` in the past, a finished execution without ``evaluated_at`` is
evaluation still owed, and both survive any crash.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts
from tocsin.clock import utcnow
from tocsin.credentials import open_credentials
from tocsin.crypto.keyring import EncryptionKeyError, SecretUnreadable, keyring_for
from tocsin.db.database import Database
from tocsin.db.native import NativePool
from tocsin.db.schema import metric_executions
from tocsin.errors import InvalidInput
from tocsin.execution.due import claim_due, next_due
from tocsin.execution.pg_runs import PostgresRunStore
from tocsin.execution.run_store import DueMetric, FinishedRun, RunRecord, RunStore, StartedRun
from tocsin.execution.sqlite_runs import SqliteRunStore
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution, Metric, RunStatus, Trigger
from tocsin.metrics.sealing import open_source
from tocsin.metrics.sources.base import (
    AllowedEnviron,
    FetchContext,
    Source,
    SourceError,
    build_source,
)
from tocsin.metrics.store import row_to_execution, value_of
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.scheduler")

# A source gets its own timeout plus this before the runner cuts it off itself.
TIMEOUT_GRACE_SECONDS = 2.0

# A runtime's group commit: a finished run in, its record out once committed.
Writer = Callable[[FinishedRun], Awaitable[RunRecord]]


def claim_due_metrics(
    db: Database, *, now: datetime | None = None, limit: int = 500
) -> list[DueMetric]:
    """Claim due slots in a transaction of their own (see ``execution.due``)."""
    with db.begin() as conn:
        return claim_due(conn, now=now or utcnow(), limit=limit)


def next_due_at(db: Database) -> datetime | None:
    """When the next enabled metric is due."""
    with db.connect() as conn:
        return next_due(conn)


def run_store_for(db: Database, settings: Settings, native: NativePool | None = None) -> RunStore:
    """The engine's run store (``run_store.py``); ``native``: a PostgreSQL runtime's pool
    of async driver connections, for its event loop."""
    if db.is_sqlite:
        return SqliteRunStore(db, settings)
    return PostgresRunStore(db, settings, native)


async def run_metric_execution(
    db: Database,
    metric_id: uuid.UUID,
    *,
    settings: Settings,
    http: HttpClient,
    trigger: Trigger = "schedule",
    scheduled_for: datetime | None = None,
) -> Execution:
    """Run the metric's source once: an execution row goes running → completed, failed
    or timed_out, with its result or error. Evaluation is the caller's next step."""
    runs = run_store_for(db, settings)
    try:
        run = await runs.start(metric_id, trigger=trigger, scheduled_for=scheduled_for)
        finished = await execute(db, run, settings=settings, http=http)
        return await runs.finish_unevaluated(finished)
    finally:
        await runs.close()


async def record(runs: RunStore, finished: FinishedRun, write: Writer | None = None) -> RunRecord:
    """Store a finished run with its alerts evaluated in the same transaction: one
    transaction fewer per run, and a result is never recorded without its evaluation.
    ``write``: the runtime's group commit (``group_commit.py``), else the store alone.
    Should that evaluation fail, the run is stored on its own, its evaluation still owed
    (``RunRecord.evaluation`` is ``None``): the caller evaluates it again, or the sweep
    does."""
    try:
        if write is not None and runs.groups(finished.run):
            return await write(finished)
        [stored] = await runs.finish([finished])
        return stored
    except Exception:  # noqa: BLE001 - recorded here; the run is then finished alone
        logger.exception(
            "metric %s: evaluating with the finished run failed", finished.run.metric.id
        )
    return RunRecord(await runs.finish_unevaluated(finished), None)


async def fetch_context(
    db: Database,
    metric: Metric,
    source: Source,
    settings: Settings,
    http: HttpClient,
    run_number: int = 0,
) -> FetchContext:
    """What ``source`` may read when it runs for ``metric``: the credentials it names,
    of the metric's own org only, and the environment variables the operator allowed."""
    names = [r.name for r in source.config.references() if r.kind == "credential"]
    credentials: dict[str, str] = {}
    if names:

        def read() -> dict[str, str]:
            with db.connect() as conn:
                return open_credentials(conn, metric.org_id, names)

        credentials = await asyncio.to_thread(read)
    return FetchContext(
        settings=settings,
        http=http,
        run_number=run_number,
        environ=AllowedEnviron(settings),
        credentials=credentials,
        own_database_url=db.url,
    )


async def execute(
    db: Database, run: StartedRun, *, settings: Settings, http: HttpClient
) -> FinishedRun:
    """Run a started run's source: its outcome, with the reason when it has no result."""
    metric = run.metric
    timeout = float(metric.source.get("timeout_seconds", 30.0))
    status: RunStatus = "completed"
    result, error = None, None
    try:
        # Inside the try: a stored metric whose plugin was uninstalled fails its run.
        # Header values are stored sealed; opened for this run only (they may hold the
        # ${cred:NAME} references that say which credentials the run needs).
        source = build_source(open_source(metric.source, keyring_for(db.url)))
        ctx = await fetch_context(db, metric, source, settings, http, run.completed_runs)
        result = await asyncio.wait_for(source.fetch(ctx), timeout + TIMEOUT_GRACE_SECONDS)
    except TimeoutError:
        status, error = "timed_out", f"no result within {timeout:g}s"
    except SourceError as exc:
        status, error = ("timed_out" if exc.timed_out else "failed"), str(exc)
    except InvalidInput as exc:
        status, error = "failed", f"the metric's source cannot run: {exc}"
    except (EncryptionKeyError, SecretUnreadable) as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded on the execution row and logged
        logger.exception("metric %s: source raised", metric.id)
        status, error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"
    # Judged now for freshness: the run completes as it is stored, moments later.
    value = value_of(result, metric.selector, utcnow()) if status == "completed" else None
    return FinishedRun(run, status, result, value, error)


async def evaluate_execution(
    db: Database, execution: Execution, *, settings: Settings, metric: Metric | None = None
) -> EvaluationResult:
    return await asyncio.to_thread(
        evaluate_alerts, db, execution.metric_id, execution, settings=settings, metric=metric
    )


def unevaluated_executions(
    db: Database, *, older_than: timedelta = timedelta(seconds=0), limit: int = 100
) -> list[Execution]:
    """Finished executions whose evaluation a crash cut off: the sweep's work."""
    cutoff = utcnow() - older_than
    with db.connect() as conn:
        rows = conn.execute(
            select(metric_executions)
            .where(
                metric_executions.c.evaluated_at.is_(None),
                metric_executions.c.completed_at.is_not(None),
                metric_executions.c.completed_at <= cutoff,
            )
            .order_by(metric_executions.c.completed_at)
            .limit(limit)
        )
        return [row_to_execution(r) for r in rows]
