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

import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Text,
    Uuid,
    any_,
    bindparam,
    cast,
    delete,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql

from tocsin.alerts import decision as core
from tocsin.alerts.batch import BatchAlert, EvaluationBatch, decide
from tocsin.alerts.matchers import Matcher, parse_filter, watches
from tocsin.alerts.recording import BatchWriter, Evaluated, RunContext
from tocsin.clock import utcnow
from tocsin.db.database import Database, WouldWait
from tocsin.db.schema import alert_series, alerts, metric_executions, metrics
from tocsin.metrics.extract import Extracted, ValueSelector
from tocsin.metrics.model import Execution, Metric, observe_series
from tocsin.metrics.series import Series, SeriesSet
from tocsin.metrics.store import row_to_execution, row_to_metric
from tocsin.settings import Settings, get_settings

BATCH_SIZE = 5000
# An absent series is forgotten (its row deleted) once unseen this long.
FORGET_AFTER = timedelta(days=7)


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
        reader = _SeriesReader(found, self.settings.max_series_per_alert)
        after: uuid.UUID | None = None
        while True:
            with nullcontext(conn) if conn is not None else self.db.begin() as tx:
                rows = _lock_batch(tx, self.db, metric.id, execution.id, after, size)
                alert_ids = {row[_ID] for row in rows}
                if at_most is not None and len(alert_ids) > at_most:
                    raise WouldWait(f"more than {at_most} alerts to evaluate")
                if rows:
                    after = rows[-1][_ID]
                    depth = max(
                        (row[_LOOKBACK] for row in rows
                         if row[_CONDITION] == "relative_change"),
                        default=0,
                    )  # fmt: skip
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
                if len(alert_ids) < size:
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


class _SeriesReader:
    """Turns locked rows (an alert with each of its stored series) into batch items,
    with this run's value of each watched series and its earlier values."""

    def __init__(self, found: SeriesSet, limit: int) -> None:
        self._found = found
        self._by_key = {s.key: s for s in found.series}
        self._limit = limit
        self._earlier: list[dict[str, Extracted]] = []
        self._baselines: dict[str, list[Extracted]] = {}

    def need_baselines(
        self,
        conn: Connection,
        metric_id: uuid.UUID,
        execution: Execution,
        selector: ValueSelector | None,
        depth: int,
    ) -> None:
        if len(self._earlier) < depth:
            self._earlier = _earlier_runs(conn, metric_id, execution, selector, depth)
            self._baselines = {}

    def members(
        self, rows: Sequence[Row[Any]], at: Any
    ) -> tuple[list[BatchAlert], list[uuid.UUID]]:
        out: list[BatchAlert] = []
        forgotten: list[uuid.UUID] = []
        cutoff = at - FORGET_AFTER
        for _, group in groupby(rows, key=itemgetter(_ID)):
            stored = list(group)
            first = stored[0]
            rule = _make_rule(_RULE_FIELDS(first))
            head = (first[_ID], first[_NAME], first[_ACTIONS], rule)
            matchers = _matchers_of(first[_FILTER])
            watched = self._watched(matchers)
            known: set[str] = set()
            for row in stored:
                key = row[_KEY]
                if key is None:  # an alert with no series yet
                    continue
                # Labels come as JSON text, decoded only for series that have some.
                labels = _NO_LABELS if key == "{}" else json.loads(row[_LABELS])
                if matchers and not watches(matchers, labels):
                    continue
                known.add(key)
                current = self._current(watched, key)
                if current is None and self._found.partial:
                    continue  # a labelled push tells nothing of the series it omits
                seen = row[_SEEN]
                if current is None and seen is not None and seen < cutoff:
                    forgotten.append(row[_SERIES_ID])
                    continue
                status = _make_status(_STATUS_FIELDS(row))
                out.append(
                    BatchAlert(*head, status, key, labels, row[_SERIES_ID], current,
                               self._baselines_of(key), seen)
                )  # fmt: skip
            for series in self._new(watched, known):
                out.append(
                    BatchAlert(*head, core.AlertStatus(), series.key, series.labels, None,
                               series.extracted, self._baselines_of(series.key))
                )  # fmt: skip
        return out, forgotten

    def _watched(self, matchers: Sequence[Matcher]) -> list[Series] | Extracted:
        """The run's series this alert watches, or why none can be told apart."""
        if self._found.failure is not None:
            return self._found.failure
        series = self._found.series
        if matchers:
            series = [s for s in series if watches(matchers, s.labels)]
        if len(series) > self._limit:
            return Extracted(
                "error",
                None,
                f"{len(series):,} series, more than TOCSIN_MAX_SERIES_PER_ALERT "
                f"({self._limit:,}): none evaluated",
            )
        return series

    def _current(self, watched: list[Series] | Extracted, key: str) -> Extracted | None:
        if isinstance(watched, Extracted):
            return watched
        found = self._by_key.get(key)
        return None if found is None else found.extracted

    def _new(self, watched: list[Series] | Extracted, known: set[str]) -> Iterator[Series]:
        if isinstance(watched, Extracted):
            # A failed run tells nothing apart: it is the error of the series known, or
            # of the one series an alert with none yet has.
            if not known:
                yield Series("{}", {}, watched)
            return
        for series in watched:
            if series.key not in known:
                yield series

    def _baselines_of(self, key: str) -> list[Extracted]:
        if not self._earlier:
            return _NONE
        found = self._baselines.get(key)
        if found is None:
            found = self._baselines[key] = [run.get(key, _ABSENT_BEFORE) for run in self._earlier]
        return found


_NONE: list[Extracted] = []
# One object for every series without labels: the bulk writes encode it once per batch.
_NO_LABELS: dict[str, str] = {}
_ABSENT_BEFORE = Extracted("no_data", None, "the series was not in that run")


@lru_cache(maxsize=1024)
def _matchers_of(text: str | None) -> tuple[Matcher, ...]:
    """An alert's ``series_filter`` (its stored JSON text), parsed once per text."""
    return tuple(parse_filter(json.loads(text))) if text and text != "[]" else ()


# What a decision reads: the alert's rule (and what its notification needs), then each
# stored series' status. The actions come along as JSON text, decoded only for the
# alerts that notify: a second query for them cost more than carrying the text.
_ALERT_COLUMNS: tuple[str, ...] = (
    "id", "name", "condition_type", "comparison_op", "threshold_value", "change_mode",
    "lookback", "cooldown_seconds", "pending_evaluations", "notify_on_resolve", "muted_until",
    "resolve_missing_after", "series_filter", "action_json",
)  # fmt: skip
_SERIES_COLUMNS: tuple[str, ...] = (
    "series_id", "series_key", "labels", "last_seen_at", "state", "consecutive_breaches",
    "last_triggered_at", "last_evaluated_at", "episode_notified", "missing_runs",
)  # fmt: skip
_COLUMNS = _ALERT_COLUMNS + _SERIES_COLUMNS


def _next_batch(columns: Sequence[Any], *, after: bool) -> Select[Any]:
    batch = select(*columns).where(
        alerts.c.metric_id == bindparam("metric_id"),
        alerts.c.enabled == true(),
        # Already recorded this execution (an evaluation cut short and re-run by the sweep).
        alerts.c.last_execution_id.is_distinct_from(bindparam("execution_id")),
    )
    if after:
        batch = batch.where(alerts.c.id > bindparam("after"))
    return batch.order_by(alerts.c.id).limit(bindparam("size"))


def _batch_query(*, after: bool, by_ids: bool) -> Select[Any]:
    """The batch's alerts, each with its stored series: the next ones of the metric, or
    (``by_ids``) those just locked."""
    # JSON as its text: decoded only where it says something (actions that notify,
    # filters and labels that are not empty).
    as_text = {
        "action_json": cast(alerts.c.action_config, Text).label("action_json"),
        "series_filter": cast(alerts.c.series_filter, Text).label("series_filter"),
    }
    chosen = [as_text[name] if name in as_text else alerts.c[name] for name in _ALERT_COLUMNS]
    if by_ids:
        ids = bindparam("ids", type_=postgresql.ARRAY(Uuid))
        a = select(*chosen).where(alerts.c.id == any_(ids)).subquery("a")
    else:
        a = _next_batch(chosen, after=after).subquery("a")
    s = alert_series
    renamed = {
        "series_id": s.c.id.label("series_id"),
        "labels": cast(s.c.labels, Text).label("labels"),
    }
    series = [renamed[name] if name in renamed else s.c[name] for name in _SERIES_COLUMNS]
    return (
        select(*(a.c[name] for name in _ALERT_COLUMNS), *series)
        .select_from(a.outerjoin(s, s.c.alert_id == a.c.id))
        .order_by(a.c.id, s.c.series_key)
    )


# Each rule and status field is read from its named column: the positions are looked up
# by name once, and itemgetter then reads them in C (building either by keyword from a
# row's attributes cost 14% of evaluating 10,000 alerts).
_RULE_FIELDS = itemgetter(*(_COLUMNS.index(f) for f in core.AlertRule._fields))
_STATUS_FIELDS = itemgetter(*(_COLUMNS.index(f) for f in core.AlertStatus._fields))
_make_rule = core.AlertRule._make
_make_status = core.AlertStatus._make
_ID, _NAME, _ACTIONS, _FILTER, _LOOKBACK, _CONDITION = (
    _COLUMNS.index(f)
    for f in ("id", "name", "action_json", "series_filter", "lookback", "condition_type")
)
_SERIES_ID, _KEY, _LABELS, _SEEN = (
    _COLUMNS.index(f) for f in ("series_id", "series_key", "labels", "last_seen_at")
)

# Built once: building a statement costs several times what executing a small one does,
# and these run on every execution of every metric.
_BATCH_QUERIES = {after: _batch_query(after=after, by_ids=False) for after in (False, True)}
# PostgreSQL: lock the batch's alert rows first, then read them with their series in a
# statement of its own. One statement would join the series as they were before it
# waited for a lock, and miss those the evaluation it waited for has just created.
_LOCK_QUERIES = {
    after: _next_batch([alerts.c.id], after=after).with_for_update() for after in (False, True)
}
_LOCKED_QUERY = _batch_query(after=False, by_ids=True)
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
    """The next batch of enabled alerts (locked on PostgreSQL), one row per stored
    series, in alert order.

    Plain rows, not models: they come typed from our own schema, and skipping model
    validation is a good part of evaluating thousands of alerts per second.
    """
    params: dict[str, Any] = {"metric_id": metric_id, "execution_id": execution_id, "size": size}
    if after is not None:
        params["after"] = after
    if db.is_sqlite:
        # The transaction holds SQLite's one write lock (BEGIN IMMEDIATE) already.
        # all(): one fetchall, not a fetchone per row.
        return conn.execute(_BATCH_QUERIES[after is not None], params).all()
    ids = list(conn.execute(_LOCK_QUERIES[after is not None], params).scalars())
    if not ids:
        return []
    return conn.execute(_LOCKED_QUERY, {"ids": ids}).all()


def _earlier_runs(
    conn: Connection,
    metric_id: uuid.UUID,
    execution: Execution,
    selector: ValueSelector | None,
    depth: int,
) -> list[dict[str, Extracted]]:
    """Each series' value in the ``depth`` completed executions before this one, newest
    first."""
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
            # Stored with the run: the one series of a metric without series.
            found.append({"{}": Extracted("value", earlier.value, "stored value")})
        else:
            series = observe_series(earlier, selector)
            found.append({s.key: s.extracted for s in series.series})
    return found
