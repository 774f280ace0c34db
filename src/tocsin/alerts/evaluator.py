"""``evaluate_alerts``: after an execution completes, decide every enabled alert of its
metric and record the outcome.

Per batch of alerts, one transaction writes the alert state, one ``alert_history`` row
per alert and the ``notification_deliveries`` rows (the outbox) for what fires. The
decisions themselves come from the pure core in ``tocsin.alerts.decision``.

The batch's alert rows are locked for the transaction (``FOR UPDATE`` in id order on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent evaluations of one metric apply
one after the other instead of overwriting each other's state. A trigger is sent only if
this evaluation wins the claim on ``last_triggered_at`` (``IS NULL OR <= at - cooldown``):
the claim is decided on the locked row and made by the state UPDATE itself, which carries
the same condition, so two processes evaluating the same alert at once can never both
notify inside one cooldown.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, bindparam, cast, select, true, update

from tocsin.alerts import decision as core
from tocsin.alerts.batch import BatchAlert, EvaluationBatch, decide
from tocsin.alerts.recording import BatchWriter, Evaluated, RunContext
from tocsin.clock import utcnow
from tocsin.db.database import Database, WouldWait
from tocsin.db.schema import (
    alerts,
    metric_executions,
    metrics,
)
from tocsin.metrics.extract import Extracted, ValueSelector
from tocsin.metrics.model import Execution, Metric, observe
from tocsin.metrics.store import row_to_execution, row_to_metric
from tocsin.settings import Settings, get_settings

BATCH_SIZE = 5000


@dataclass
class EvaluationResult:
    execution_id: uuid.UUID
    value: Extracted
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
    """One execution's evaluation: read a batch of alerts, ``decide`` it, write it; again
    until the metric's enabled alerts are done."""

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
        current = observe(execution, metric.selector)
        result = EvaluationResult(execution.id, current)
        lease_until = None
        if self.claim_for_seconds is not None:
            lease_until = utcnow() + timedelta(seconds=self.claim_for_seconds)
        context = RunContext(
            metric.id, metric.org_id, metric.name, execution.id, self.settings, lease_until
        )
        baselines: list[Extracted] = []
        after: uuid.UUID | None = None
        while True:
            with nullcontext(conn) if conn is not None else self.db.begin() as tx:
                rows = _lock_batch(tx, self.db, metric.id, execution.id, after, size)
                if at_most is not None and len(rows) > at_most:
                    raise WouldWait(f"more than {at_most} alerts to evaluate")
                if rows:
                    after = rows[-1].id
                    members = [_member(row) for row in rows]
                    depth = max(
                        (a.rule.lookback for a in members
                         if a.rule.condition_type == "relative_change"),
                        default=0,
                    )  # fmt: skip
                    if len(baselines) < depth:
                        baselines = _baselines(tx, metric.id, execution, metric.selector, depth)
                    batch = EvaluationBatch(at, current, baselines, members)
                    own = writer or BatchWriter()
                    evaluated, outbox = own.add(context, batch, decide(batch))
                    if writer is None:
                        own.flush(tx)
                    result.evaluated += evaluated
                    result.outbox += outbox
                if len(rows) < size:
                    # An execution stored as evaluated (a push, recorded in this
                    # transaction) is already marked.
                    if execution.evaluated_at is None:
                        value = current.value if current.status == "value" else None
                        tx.execute(
                            _MARK_EVALUATED,
                            {"execution_id": execution.id, "b_now": utcnow(), "b_value": value},
                        )
                    return result


# What a decision reads. The actions come along as JSON text, decoded only for the alerts
# that notify: a second query for them cost more than carrying the text.
_DECISION_COLUMNS: tuple[str, ...] = (
    "id", "name", "condition_type", "comparison_op", "threshold_value", "change_mode",
    "lookback", "cooldown_seconds", "pending_evaluations", "notify_on_resolve", "muted_until",
    "state", "consecutive_breaches", "last_triggered_at", "last_evaluated_at",
    "episode_notified", "action_json",
)  # fmt: skip


def _batch_query(*, after: bool, lock: bool) -> Select[Any]:
    actions = cast(alerts.c.action_config, Text).label("action_json")
    columns = [actions if name == "action_json" else alerts.c[name] for name in _DECISION_COLUMNS]
    query = select(*columns).where(
        alerts.c.metric_id == bindparam("metric_id"),
        alerts.c.enabled == true(),
        # Already recorded this execution (an evaluation cut short and re-run by the sweep).
        alerts.c.last_execution_id.is_distinct_from(bindparam("execution_id")),
    )
    if after:
        query = query.where(alerts.c.id > bindparam("after"))
    query = query.order_by(alerts.c.id).limit(bindparam("size"))
    return query.with_for_update() if lock else query


# Each rule and status field is read from its named column: the positions are looked up
# by name once, and itemgetter then reads them in C (building either by keyword from a
# row's attributes cost 14% of evaluating 10,000 alerts).
_RULE_FIELDS = itemgetter(*(_DECISION_COLUMNS.index(f) for f in core.AlertRule._fields))
_STATUS_FIELDS = itemgetter(*(_DECISION_COLUMNS.index(f) for f in core.AlertStatus._fields))
_make_rule = core.AlertRule._make
_make_status = core.AlertStatus._make
_ID, _NAME, _ACTIONS = (_DECISION_COLUMNS.index(f) for f in ("id", "name", "action_json"))


def _member(row: Row[Any]) -> BatchAlert:
    return BatchAlert(
        row[_ID],
        row[_NAME],
        row[_ACTIONS],
        _make_rule(_RULE_FIELDS(row)),
        _make_status(_STATUS_FIELDS(row)),
    )


# Built once: building a statement costs several times what executing a small one does,
# and these run on every execution of every metric.
_BATCH_QUERIES = {(after, lock): _batch_query(after=after, lock=lock)
                  for after in (False, True) for lock in (False, True)}  # fmt: skip
_MARK_EVALUATED = (
    update(metric_executions)
    .where(metric_executions.c.id == bindparam("execution_id"))
    .values(evaluated_at=bindparam("b_now"), value=bindparam("b_value"))
)


def _lock_batch(
    conn: Connection,
    db: Database,
    metric_id: uuid.UUID,
    execution_id: uuid.UUID,
    after: uuid.UUID | None,
    size: int,
) -> Sequence[Row[Any]]:
    """The next batch of enabled alerts, locked on PostgreSQL.

    Plain rows, not models: they come typed from our own schema, and skipping model
    validation is a good part of evaluating thousands of alerts per second.
    """
    query = _BATCH_QUERIES[(after is not None, not db.is_sqlite)]
    params: dict[str, Any] = {"metric_id": metric_id, "execution_id": execution_id, "size": size}
    if after is not None:
        params["after"] = after
    # all(): one fetchall, not a fetchone per row.
    return conn.execute(query, params).all()


def _baselines(
    conn: Connection,
    metric_id: uuid.UUID,
    execution: Execution,
    selector: ValueSelector | None,
    depth: int,
) -> list[Extracted]:
    """Values of the ``depth`` completed executions before this one, newest first."""
    at = execution.completed_at or execution.started_at
    rows = conn.execute(
        select(metric_executions)
        .where(
            metric_executions.c.metric_id == metric_id,
            metric_executions.c.status == "completed",
            metric_executions.c.id != execution.id,
            metric_executions.c.completed_at <= at,
        )
        .order_by(metric_executions.c.completed_at.desc(), metric_executions.c.id.desc())
        .limit(depth)
    )
    found = []
    for row in rows:
        earlier = row_to_execution(row)
        if earlier.value is not None:
            found.append(Extracted("value", earlier.value, "stored value"))
        else:
            found.append(observe(earlier, selector))
    return found
