"""``run_metric_execution`` and the scheduler's other task functions.

The same functions run in the embedded runtime (an asyncio loop on SQLite) and in
Procrastinate workers on PostgreSQL. The database is the source of truth: a due metric is
a row with ``next_run_at`` in the past, a finished execution without ``evaluated_at`` is
evaluation still owed, and both survive any crash.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, text, update

from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts, observe
from tocsin.clock import utcnow
from tocsin.credentials import open_credentials
from tocsin.crypto.fields import open_source
from tocsin.crypto.keyring import EncryptionKeyError, SecretUnreadable, keyring_for
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.errors import InvalidInput
from tocsin.execution.run_statements import (
    begin_async_commit,
    finish_unless_alerts_async,
    start_run_async,
)
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.schedule import Schedule
from tocsin.metrics.sources.base import (
    AllowedEnviron,
    FetchContext,
    Source,
    SourceError,
    build_source,
)
from tocsin.metrics.store import MetricStore, row_to_execution, value_of
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.scheduler")

# A source gets its own timeout plus this before the runner cuts it off itself.
TIMEOUT_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class DueMetric:
    metric_id: uuid.UUID
    scheduled_for: datetime


# Built once: the scheduler runs these every tick and for every run.
_DUE = (
    select(metrics.c.id, metrics.c.next_run_at, metrics.c.schedule)
    .where(
        metrics.c.enabled.is_(True),
        metrics.c.next_run_at.is_not(None),
        metrics.c.next_run_at <= bindparam("now"),
    )
    .order_by(metrics.c.next_run_at)
    .limit(bindparam("limit"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_ADVANCE = (
    update(metrics)
    .where(metrics.c.id == bindparam("b_id"), metrics.c.next_run_at == bindparam("seen"))
    .values(next_run_at=bindparam("following"))
)

_ADVANCE_BATCH = text(
    "UPDATE metrics SET next_run_at = v.following "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:seen AS timestamptz[]), "
    "CAST(:following AS timestamptz[])) AS v(id, seen, following) "
    "WHERE metrics.id = v.id AND metrics.next_run_at = v.seen "
    "RETURNING metrics.id"
).columns(metrics.c.id)


def claim_due_metrics(
    db: Database, *, now: datetime | None = None, limit: int = 500
) -> list[DueMetric]:
    """Advance ``next_run_at`` of due metrics and return them: each slot is claimed once.

    The UPDATE is conditional on ``next_run_at`` still being the value read, so two
    schedulers never claim the same slot. After downtime a metric runs once, and its
    next slot is computed from now, not from the missed slots.
    """
    now = now or utcnow()
    with db.begin() as conn:
        query = _DUE_LOCKED if not db.is_sqlite else _DUE
        due = conn.execute(query, {"now": now, "limit": limit}).all()
        advances = []
        for row in due:
            schedule = Schedule.model_validate(row.schedule) if row.schedule else None
            if schedule is None:
                continue
            following = schedule.next_after(row.next_run_at)
            if following <= now:
                following = schedule.next_after(now)
            advances.append({"b_id": row.id, "seen": row.next_run_at, "following": following})
        if not advances:
            return []
        if db.is_sqlite:
            advanced = {a["b_id"] for a in advances if conn.execute(_ADVANCE, a).rowcount == 1}
        else:
            # One statement for the batch: a round trip per metric cost the tick more
            # than the runs it deferred.
            advanced = set(
                conn.execute(
                    _ADVANCE_BATCH,
                    {
                        "ids": [a["b_id"] for a in advances],
                        "seen": [a["seen"] for a in advances],
                        "following": [a["following"] for a in advances],
                    },
                ).scalars()
            )
        # In the order they came due.
        return [DueMetric(a["b_id"], a["seen"]) for a in advances if a["b_id"] in advanced]


def next_due_at(db: Database) -> datetime | None:
    """When the next enabled metric is due (the due-metrics index answers it)."""
    with db.connect() as conn:
        found: datetime | None = conn.execute(
            select(func.min(metrics.c.next_run_at)).where(
                metrics.c.enabled.is_(True), metrics.c.next_run_at.is_not(None)
            )
        ).scalar()
        return found


async def run_metric_execution(
    db: Database,
    metric_id: uuid.UUID,
    *,
    settings: Settings,
    http: HttpClient,
    trigger: str = "schedule",
    scheduled_for: datetime | None = None,
) -> Execution:
    """Run the metric's source once: an execution row goes running → completed, failed
    or timed_out, with its result or error. Evaluation is the caller's next step."""
    _metric, execution, _ = await run_metric(
        db, metric_id, settings=settings, http=http, trigger=trigger, scheduled_for=scheduled_for
    )
    return execution


async def run_metric(
    db: Database,
    metric_id: uuid.UUID,
    *,
    settings: Settings,
    http: HttpClient,
    trigger: str = "schedule",
    scheduled_for: datetime | None = None,
    evaluate: bool = False,
) -> tuple[Metric, Execution, EvaluationResult | None]:
    """``run_metric_execution``, also handing back the metric it read (for evaluation).

    With ``evaluate``, the alerts are evaluated in the transaction that finishes the
    execution: one transaction fewer per run, and a result is never recorded without
    its evaluation. Should that evaluation fail, the execution is finished on its own
    and no evaluation is returned: the caller evaluates it again (or the sweep does).
    """
    args = (db, metric_id, settings, http, trigger, scheduled_for, evaluate)
    if db.native is None:
        return await _run_metric(*args)
    async with db.native.held():
        return await _run_metric(*args)


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


async def _run_metric(
    db: Database,
    metric_id: uuid.UUID,
    settings: Settings,
    http: HttpClient,
    trigger: str,
    scheduled_for: datetime | None,
    evaluate: bool,
) -> tuple[Metric, Execution, EvaluationResult | None]:
    run = await start_run_async(db, metric_id, trigger=trigger, scheduled_for=scheduled_for)
    metric, exec_id = run.metric, run.execution_id
    timeout = float(metric.source.get("timeout_seconds", 30.0))
    status, result, error = "completed", None, None
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
        logger.exception("metric %s: source raised", metric_id)
        status, error = "failed", f"unexpected error: {type(exc).__name__}: {exc}"

    value = value_of(result, metric.selector) if status == "completed" else None

    if evaluate and not run.has_alerts:
        # Nothing to evaluate, unless an alert was enabled since the run started.
        execution = await finish_unless_alerts_async(
            db, run, status=status, result=result, value=value, error=error
        )
        if execution.evaluated_at is None:
            return (
                metric,
                execution,
                await evaluate_execution(db, execution, settings=settings, metric=metric),
            )
        return (
            metric,
            execution,
            EvaluationResult(execution.id, observe(execution, metric.selector)),
        )

    def finish(evaluated: bool) -> tuple[Metric, Execution, EvaluationResult | None]:
        with db.begin() as conn:
            begin_async_commit(conn)
            execution = MetricStore(conn, metric.org_id).finish_execution(
                exec_id, status=status, result=result, error=error, value=value, evaluated=evaluated
            )
            if not evaluated:
                return metric, execution, None
            evaluation = evaluate_alerts(
                db, metric_id, execution, settings=settings, metric=metric, conn=conn
            )
            return metric, execution, evaluation

    if evaluate:
        try:
            return await asyncio.to_thread(finish, True)
        except Exception:  # noqa: BLE001 - recorded here; the run is then finished alone
            logger.exception("metric %s: evaluating with the finished run failed", metric_id)
    return await asyncio.to_thread(finish, False)


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
