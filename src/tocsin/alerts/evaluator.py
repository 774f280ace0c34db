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
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, bindparam, cast, select, true, update

from tocsin.alerts import decision as core
from tocsin.alerts.recording import BatchWriter, Evaluated, record_batch
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
    return _evaluate(
        db,
        metric_id,
        execution_result,
        settings or get_settings(),
        batch_size,
        metric,
        claim_for_seconds,
        conn,
        at_most,
        None,
    )


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
        results.append(
            _evaluate(
                db,
                metric.id,
                execution,
                settings,
                BATCH_SIZE,
                metric,
                claim_for_seconds,
                conn,
                None,
                writer,
            )
        )
    writer.flush(conn)
    return results


def _evaluate(
    db: Database,
    metric_id: uuid.UUID,
    execution: Execution,
    settings: Settings,
    batch_size: int,
    metric: Metric | None,
    claim_for_seconds: float | None,
    conn: Connection | None,
    at_most: int | None,
    writer: BatchWriter | None,
) -> EvaluationResult:
    at = execution.completed_at or execution.started_at
    if metric is None:
        with db.connect() as reader:
            row = reader.execute(select(metrics).where(metrics.c.id == metric_id)).one()
        metric = row_to_metric(row)
    current = observe(execution, metric.selector)
    result = EvaluationResult(execution.id, current)
    baselines: list[Extracted] | None = None
    after: uuid.UUID | None = None
    size = batch_size if at_most is None else at_most + 1
    while True:
        with nullcontext(conn) if conn is not None else db.begin() as tx:
            batch = _lock_batch(tx, db, metric_id, execution.id, after, size)
            if at_most is not None and len(batch) > at_most:
                raise WouldWait(f"more than {at_most} alerts to evaluate")
            if batch:
                after = batch[-1].id
                depth = max(
                    (a.lookback for a in batch if a.condition_type == "relative_change"),
                    default=0,
                )
                if depth and (baselines is None or len(baselines) < depth):
                    baselines = _baselines(tx, metric_id, execution, metric.selector, depth)
                result.evaluated += _evaluate_batch(
                    tx,
                    batch,
                    execution,
                    at,
                    current,
                    baselines or [],
                    (metric_id, metric.org_id, metric.name),
                    settings,
                    claim_for_seconds,
                    result.outbox,
                    writer,
                )
            if len(batch) < size:
                # An execution stored as evaluated (a push, recorded in this transaction)
                # is already marked.
                if execution.evaluated_at is None:
                    tx.execute(
                        _MARK_EVALUATED,
                        {
                            "execution_id": execution.id,
                            "b_now": utcnow(),
                            "b_value": current.value if current.status == "value" else None,
                        },
                    )
                break
    return result


# What a decision reads. The actions come along as JSON text, decoded only for the alerts
# that notify: a second query for them cost more than carrying the text.
_DECISION_COLUMNS: tuple[str, ...] = (
    "id", "name", "condition_type", "comparison_op", "threshold_value", "change_mode",
    "lookback", "cooldown_seconds", "pending_evaluations", "notify_on_resolve", "muted_until",
    "state", "consecutive_breaches", "last_triggered_at", "last_evaluated_at",
    "episode_notified",
)  # fmt: skip


def _batch_query(*, after: bool, lock: bool) -> Select[Any]:
    columns = [alerts.c[name] for name in _DECISION_COLUMNS]
    query = select(*columns, cast(alerts.c.action_config, Text).label("action_json")).where(
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


def _evaluate_batch(
    conn: Connection,
    batch: Sequence[Row[Any]],
    execution: Execution,
    at: datetime,
    current: Extracted,
    baselines: list[Extracted],
    metric: tuple[uuid.UUID, uuid.UUID, str],
    settings: Settings,
    claim_for_seconds: float | None,
    outbox: list[dict[str, Any]],
    writer: BatchWriter | None,
) -> list[Evaluated]:
    # Lists in batch order, not dicts by alert id: hashing UUIDs is a Python-level call.
    decisions: list[core.Decision] = []
    rules: list[core.AlertRule] = []
    # One observation per baseline depth, shared by every alert that reads it.
    plain = core.Observation(at=at, extracted=current)
    deeper = [core.Observation(at=at, extracted=current, baseline=b) for b in baselines]
    for alert in batch:
        rule = _make_rule(_RULE_FIELDS(alert))
        obs = plain
        if rule.condition_type == "relative_change" and len(baselines) >= rule.lookback:
            obs = deeper[rule.lookback - 1]
        rules.append(rule)
        decisions.append(core.evaluate(rule, _make_status(_STATUS_FIELDS(alert)), obs))

    return record_batch(
        conn,
        [alert[0] for alert in batch],
        [(alert.name, alert.action_json) for alert in batch],
        rules,
        decisions,
        execution,
        at,
        metric,
        settings,
        claim_for_seconds,
        outbox,
        writer,
    )
