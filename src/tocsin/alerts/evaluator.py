"""``evaluate_alerts``: after an execution completes, decide every series of every enabled
alert of its metric and record the outcome.

Per batch of alerts, one transaction writes each series' state (``alert_series``), the
alert rows' summary of them, one ``alert_history`` row per series and the
``notification_deliveries`` rows (the outbox) for what fires. The decisions themselves
come from the pure core (``alerts/batch.py``, ``alerts/decision.py``).

The batch's alert rows are locked for the transaction (``FOR UPDATE`` in id order on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent evaluations of one metric apply
one after the other instead of overwriting each other's state. A trigger is sent only if
this evaluation wins the claim on its series' ``last_triggered_at`` (``IS NULL OR <= at -
cooldown``): the claim is decided on the locked rows and made by the state UPDATE itself,
which carries the same condition, so two processes evaluating the same alert at once can
never both notify inside one cooldown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    select,
    update,
)

from tocsin.alerts.batch import EvaluationBatch, decide
from tocsin.alerts.reading import SeriesReader, batch_shape, lock_batch
from tocsin.alerts.recording import BatchWriter, Evaluated, RunContext
from tocsin.clock import utcnow
from tocsin.db.database import Database, WouldWait
from tocsin.db.schema import alert_series, metric_executions, metrics
from tocsin.metrics.extract import Extracted
from tocsin.metrics.model import Execution, Metric, observe_series
from tocsin.metrics.series import SeriesSet
from tocsin.metrics.store import row_to_metric
from tocsin.settings import Settings, get_settings

BATCH_SIZE = 5000


@dataclass
class EvaluationResult:
    execution_id: uuid.UUID
    value: Extracted  # the one series' value; for a metric with series, how many
    evaluated: list[Evaluated] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # the delivery rows written

    @property
    def delivery_ids(self) -> list[uuid.UUID]:
        return [d for e in self.evaluated for d in e.delivery_ids]


def evaluate_alerts(
    db: Database,
    metric_id: uuid.UUID,
    execution_result: Execution,
    *,
    settings: Settings | None = None,
    batch_size: int = BATCH_SIZE,
    metric: Metric | None = None,
    claim_for_seconds: float | None = None,
    conn: Connection | None = None,
    at_most: int | None = None,
) -> EvaluationResult:
    """Evaluate every enabled alert of ``metric_id`` against a finished execution.

    Idempotent per execution: an alert that already recorded this execution is skipped,
    so the sweep can re-run an evaluation that a crash cut short. ``metric``, when the
    caller has it at hand, saves reading it again. With ``claim_for_seconds`` the
    deliveries are created already claimed by the caller for that long (see
    ``outbox.delivery_rows``), and returned in ``EvaluationResult.outbox``. With ``conn``
    (a write transaction), every batch runs in it instead of in transactions of its own.
    With ``at_most``, a metric with more enabled alerts than that raises ``WouldWait``
    before anything is written, for the caller to evaluate them where a long evaluation
    blocks nothing.
    """
    if metric is None:
        with db.connect() as reader:
            row = reader.execute(select(metrics).where(metrics.c.id == metric_id)).one()
        metric = row_to_metric(row)
    size = batch_size if at_most is None else at_most + 1
    job = _Job(db, metric, execution_result, settings or get_settings(), claim_for_seconds)
    return job.run(conn, None, size, at_most)


def evaluate_group(
    db: Database,
    conn: Connection,
    runs: Sequence[tuple[Metric, Execution]],
    *,
    settings: Settings,
    claim_for_seconds: float | None = None,
) -> list[EvaluationResult]:
    """``evaluate_alerts`` for runs a group commit finishes together, in ``conn``'s
    transaction: their alert states, history and outbox rows are written once for the
    group (``recording.BatchWriter``)."""
    writer = BatchWriter()
    pending: set[uuid.UUID] = set()
    results = []
    for metric, execution in runs:
        if metric.id in pending:
            # A second run of a metric reads the states the first one wrote.
            writer.flush(conn)
            pending.clear()
        pending.add(metric.id)
        job = _Job(db, metric, execution, settings, claim_for_seconds)
        results.append(job.run(conn, writer, BATCH_SIZE, None))
    writer.flush(conn)
    return results


@dataclass(frozen=True, slots=True)
class _Job:
    """One execution's evaluation: read a batch of alerts with their series, ``decide``
    it, write it; again until the metric's enabled alerts are done."""

    db: Database
    metric: Metric
    execution: Execution
    settings: Settings
    claim_for_seconds: float | None

    def run(
        self, conn: Connection | None, writer: BatchWriter | None, size: int, at_most: int | None
    ) -> EvaluationResult:
        execution, metric = self.execution, self.metric
        at = execution.completed_at or execution.started_at
        found = observe_series(execution, metric.selector)
        single = _single_value(found)
        result = EvaluationResult(execution.id, single or _counted(found))
        lease_until = None
        if self.claim_for_seconds is not None:
            lease_until = utcnow() + timedelta(seconds=self.claim_for_seconds)
        context = RunContext(
            metric.id, metric.org_id, metric.name, execution.id, self.settings, lease_until
        )
        reader = SeriesReader(found, self.settings.max_series_per_alert)
        after: uuid.UUID | None = None
        while True:
            with nullcontext(conn) if conn is not None else self.db.begin() as tx:
                rows = lock_batch(tx, self.db, metric.id, execution.id, after, size)
                count, last, depth = batch_shape(rows)
                if at_most is not None and count > at_most:
                    raise WouldWait(f"more than {at_most} alerts to evaluate")
                if rows:
                    after = last
                    reader.need_baselines(tx, metric.id, execution, metric.selector, depth)
                    members, forgotten = reader.members(rows, at)
                    if forgotten:
                        tx.execute(delete(alert_series).where(alert_series.c.id.in_(forgotten)))
                    batch = EvaluationBatch(at, members)
                    own = writer or BatchWriter()
                    evaluated, outbox = own.add(context, batch, decide(batch))
                    if writer is None:
                        own.flush(tx)
                    result.evaluated += evaluated
                    result.outbox += outbox
                if count < size:
                    # An execution stored as evaluated (a push, recorded in this
                    # transaction) is already marked.
                    if execution.evaluated_at is None:
                        value = single.value if single is not None else None
                        tx.execute(
                            _MARK_EVALUATED,
                            {"execution_id": execution.id, "b_now": utcnow(), "b_value": value},
                        )
                    return result


def _single_value(found: SeriesSet) -> Extracted | None:
    """The value of a run of a metric without series (its one series ``{}``)."""
    if found.failure is not None:
        return found.failure
    if len(found.series) == 1 and found.series[0].key == "{}":
        return found.series[0].extracted
    return None


def _counted(found: SeriesSet) -> Extracted:
    n = len(found.series)
    return Extracted("value", None, f"{n} series" if n != 1 else "1 series")


_MARK_EVALUATED = (
    update(metric_executions)
    .where(metric_executions.c.id == bindparam("execution_id"))
    .values(evaluated_at=bindparam("b_now"), value=bindparam("b_value"))
)
