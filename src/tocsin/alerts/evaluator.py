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

import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, bindparam, cast, select, update

from tocsin.alerts import decision as core
from tocsin.alerts.extract import Extracted, ValueSelector, extract_value
from tocsin.alerts.model import Alert, AlertFields
from tocsin.alerts.outbox import PayloadMaker, delivery_rows
from tocsin.clock import utcnow
from tocsin.db.bulk import insert_columns, insert_rows, update_columns
from tocsin.db.database import Database, WouldWait
from tocsin.db.schema import (
    alert_history,
    alerts,
    metric_executions,
    metrics,
    notification_deliveries,
)
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.store import row_to_execution, row_to_metric
from tocsin.settings import Settings, get_settings
from tocsin.telemetry import record_evaluation, suppression_category

BATCH_SIZE = 5000


@dataclass(slots=True)
class Evaluated:
    """One alert's evaluation, as recorded."""

    alert_id: uuid.UUID
    delivery_ids: list[uuid.UUID]
    decision: core.Decision
    # The batch's history rows, column by column, and this alert's row among them.
    _history: Mapping[str, Sequence[Any]]
    _row: int

    @property
    def history(self) -> dict[str, Any]:
        """The ``alert_history`` row written for this evaluation."""
        return {name: values[self._row] for name, values in self._history.items()}


@dataclass
class EvaluationResult:
    execution_id: uuid.UUID
    value: Extracted
    evaluated: list[Evaluated] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # the delivery rows written

    @property
    def delivery_ids(self) -> list[uuid.UUID]:
        return [d for e in self.evaluated for d in e.delivery_ids]


def rule_of(alert: Alert | AlertFields | Row[Any]) -> core.AlertRule:
    """The decision rule of a stored alert, a draft, or a raw row."""
    return core.AlertRule(
        condition_type=alert.condition_type,
        comparison_op=alert.comparison_op,
        threshold_value=alert.threshold_value,
        change_mode=alert.change_mode,
        lookback=alert.lookback,
        cooldown_seconds=alert.cooldown_seconds,
        pending_evaluations=alert.pending_evaluations,
        notify_on_resolve=alert.notify_on_resolve,
        muted_until=alert.muted_until,
    )


def status_of(alert: Alert | Row[Any]) -> core.AlertStatus:
    return core.AlertStatus(
        state=alert.state,
        consecutive_breaches=alert.consecutive_breaches,
        last_triggered_at=alert.last_triggered_at,
        last_evaluated_at=alert.last_evaluated_at,
        episode_notified=alert.episode_notified,
    )


def observe(execution: Execution, selector: ValueSelector | None) -> Extracted:
    """The value an execution yields for its alerts."""
    if execution.status != "completed":
        what = "timed out" if execution.status == "timed_out" else "failed"
        return Extracted("error", None, f"execution {what}: {execution.error or 'no detail'}")
    return extract_value(execution.result, selector)


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
    settings = settings or get_settings()
    execution = execution_result
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
    "episode_notified", "last_value",
)  # fmt: skip


@dataclass(frozen=True)
class _Target:
    """The alert a notification is about (what the payload and outbox rows need)."""

    id: uuid.UUID
    org_id: uuid.UUID
    metric_id: uuid.UUID
    name: str
    action_config: Any


def _batch_query(*, after: bool, lock: bool) -> Select[Any]:
    columns = [alerts.c[name] for name in _DECISION_COLUMNS]
    query = select(*columns, cast(alerts.c.action_config, Text).label("action_json")).where(
        alerts.c.metric_id == bindparam("metric_id"),
        alerts.c.enabled.is_(True),
        # Already recorded this execution (an evaluation cut short and re-run by the sweep).
        alerts.c.last_execution_id.is_distinct_from(bindparam("execution_id")),
    )
    if after:
        query = query.where(alerts.c.id > bindparam("after"))
    query = query.order_by(alerts.c.id).limit(bindparam("size"))
    return query.with_for_update() if lock else query


# A batch row holds the rule's and then the status's columns in their fields' order, so
# each is built from a slice of the row, not field by field.
_RULE = slice(2, 2 + len(core.AlertRule._fields))
_STATUS = slice(_RULE.stop, _RULE.stop + len(core.AlertStatus._fields))
if (_DECISION_COLUMNS[_RULE], _DECISION_COLUMNS[_STATUS]) != (
    core.AlertRule._fields,
    core.AlertStatus._fields,
):
    raise AssertionError("_DECISION_COLUMNS is out of step with AlertRule and AlertStatus")
make_rule = core.AlertRule._make
make_status = core.AlertStatus._make

# Built once: building a statement costs several times what executing a small one does,
# and these run on every execution of every metric.
_BATCH_QUERIES = {(after, lock): _batch_query(after=after, lock=lock)
                  for after in (False, True) for lock in (False, True)}  # fmt: skip
# A claim's cutoff for alerts that claim nothing: every stored time is before it.
_NO_CLAIM = datetime(9999, 12, 31, tzinfo=UTC)
# Stored times have microsecond precision: "<= at - 1 µs" is "< at".
_TICK = timedelta(microseconds=1)
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
) -> list[Row[Any]]:
    """The next batch of enabled alerts, locked on PostgreSQL.

    Plain rows, not models: they come typed from our own schema, and skipping model
    validation is a good part of evaluating thousands of alerts per second.
    """
    query = _BATCH_QUERIES[(after is not None, not db.is_sqlite)]
    params: dict[str, Any] = {"metric_id": metric_id, "execution_id": execution_id, "size": size}
    if after is not None:
        params["after"] = after
    return list(conn.execute(query, params))


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
) -> list[Evaluated]:
    metric_id, org_id, metric_name = metric
    # Lists in batch order, not dicts by alert id: hashing UUIDs is a Python-level call.
    decisions: list[core.Decision] = []
    rules: list[core.AlertRule] = []
    # One observation per baseline depth, shared by every alert that reads it.
    plain = core.Observation(at=at, extracted=current)
    deeper = [core.Observation(at=at, extracted=current, baseline=b) for b in baselines]
    for alert in batch:
        rule = make_rule(alert[_RULE])
        obs = plain
        if rule.condition_type == "relative_change" and len(baselines) >= rule.lookback:
            obs = deeper[rule.lookback - 1]
        rules.append(rule)
        decisions.append(core.evaluate(rule, make_status(alert[_STATUS]), obs))

    cutoffs = [_NO_CLAIM] * len(batch)
    for i, (rule, d) in enumerate(zip(rules, decisions, strict=True)):
        if d.notify != "trigger":
            continue
        cutoff = _claim_cutoff(rule.cooldown_seconds, at)
        last = d.previous_status.last_triggered_at
        if last is None or last <= cutoff:
            cutoffs[i] = cutoff
        else:
            decisions[i] = core.suppress(d, "cooldown: another evaluation notified first")

    now = utcnow()
    n = len(batch)
    ids = [alert[0] for alert in batch]
    # Column by column: one pass over the decisions per column (zip(*...) transposes in
    # C) costs a fraction of a dict per row.
    column = dict(zip(core.Decision._fields, zip(*decisions, strict=True), strict=True))
    applied = column["applied"]
    if all(applied):
        kept_ids, kept, kept_cutoffs = ids, decisions, cutoffs
    else:
        keep = [i for i, flag in enumerate(applied) if flag]
        kept_ids = [ids[i] for i in keep]
        kept = [decisions[i] for i in keep]
        kept_cutoffs = [cutoffs[i] for i in keep]
    if kept:
        states: dict[str, Sequence[Any]] = {"id": kept_ids}
        states.update(
            zip(
                core.AlertStatus._fields,
                zip(*(d.new_status for d in kept), strict=True),
                strict=True,
            )
        )
        states["last_value"] = [d.value for d in kept]
        states["last_execution_id"] = [execution.id] * len(kept)
        states["updated_at"] = [now] * len(kept)
        states["claim_cutoff"] = kept_cutoffs
        # The claim: the UPDATE carries its condition. The rows are locked since they
        # were read, so it holds for every row; a row it skipped was changed behind it.
        changed = update_columns(
            conn, alerts, "id", states, not_after=("last_triggered_at", "claim_cutoff")
        )
        if changed != len(kept):
            raise RuntimeError(
                f"{len(kept) - changed} alert row(s) changed during their evaluation's lock"
            )

    notified = [kind is not None for kind in column["notify"]]
    history: dict[str, Sequence[Any]] = {
        "id": list(fresh_uuids(n)),
        "alert_id": ids,
        "org_id": [org_id] * n,
        "execution_id": [execution.id] * n,
        "evaluated_at": [at] * n,
        "value": column["value"],
        "baseline_value": column["baseline_value"],
        "triggered": column["triggered"],
        "state_from": column["state_from"],
        "state_to": column["state_to"],
        "notified": notified,
        "reason": column["reason"],
    }
    lease_until = None if claim_for_seconds is None else now + timedelta(seconds=claim_for_seconds)
    first = len(outbox)
    decoded: dict[str, Any] = {}
    delivery_ids = _uuid_stream()
    payload_for = PayloadMaker(org_id, metric_id, metric_name, at, settings)
    out = [Evaluated(ids[i], [], decisions[i], history, i) for i in range(n)]
    for i in (i for i, flag in enumerate(notified) if flag):
        alert, d = batch[i], decisions[i]
        assert d.notify is not None
        actions = decoded.get(alert.action_json)
        if actions is None:
            # Alerts of one metric often share their actions: decoded once, and then the
            # outbox's bulk insert encodes the shared object once too. Nothing downstream
            # mutates an action (redaction copies).
            actions = decoded[alert.action_json] = json.loads(alert.action_json)
        target = _Target(ids[i], org_id, metric_id, alert.name, actions)
        payload = payload_for(
            d.notify, str(ids[i]), alert.name, d, core.describe_condition(rules[i])
        )
        rows = delivery_rows(
            target,
            d.notify,
            payload,
            history["id"][i],
            now,
            lease_until=lease_until,
            new_id=delivery_ids.__next__,
        )
        outbox.extend(rows)
        out[i].delivery_ids = [r["id"] for r in rows]
    insert_columns(conn, alert_history, history)
    insert_rows(conn, notification_deliveries, outbox[first:])
    categories = map(_category, column["suppressed"])
    tally = Counter(zip(column["state_to"], notified, categories, strict=True))
    for (state, sent, suppressed), count in tally.items():
        record_evaluation(state, sent, suppressed, count=count)
    return out


def _category(suppressed: str | None) -> str | None:
    return None if suppressed is None else suppression_category(suppressed)


# The version 4 and RFC 4122 variant bits of a UUID's integer.
_V4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_V4_SET = (0x8000 << 48) | (4 << 76)


def fresh_uuids(count: int) -> Iterator[uuid.UUID]:
    """Random (version 4) UUIDs from one read of the OS's randomness, not one each.

    Built as Python 3.14's ``UUID._from_int`` does, without ``UUID.__init__``'s parsing
    of its many argument forms, which cost more than the randomness: an evaluation makes
    one per alert and one per delivery."""
    pool = os.urandom(16 * count)
    new, setattr_, from_bytes = object.__new__, object.__setattr__, int.from_bytes
    unknown = uuid.SafeUUID.unknown
    for start in range(0, 16 * count, 16):
        made = new(uuid.UUID)
        setattr_(made, "int", from_bytes(pool[start : start + 16]) & _V4_CLEAR | _V4_SET)
        setattr_(made, "is_safe", unknown)
        yield made


def _uuid_stream() -> Iterator[uuid.UUID]:
    while True:
        yield from fresh_uuids(256)


def _claim_cutoff(cooldown_seconds: int, at: datetime) -> datetime:
    """A trigger at ``at`` may be sent if ``last_triggered_at`` is NULL or not after this."""
    # With no cooldown, still at most one trigger per moment, not two for one run.
    return at - (_TICK if cooldown_seconds == 0 else timedelta(seconds=cooldown_seconds))
