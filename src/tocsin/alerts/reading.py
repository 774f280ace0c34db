"""Reading an evaluation batch: the next enabled alerts of a metric, each with its stored
series (locked for the evaluation), turned into batch items with this run's value of
each series they watch and its earlier values (``alerts/evaluator.py`` decides and writes
them)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Row, Select, Text, Uuid, any_, bindparam, cast, select, true
from sqlalchemy.dialects import postgresql

from tocsin.alerts import decision as core
from tocsin.alerts.batch import BatchAlert
from tocsin.alerts.matchers import Matcher, parse_filter, watches
from tocsin.db.database import Database
from tocsin.db.schema import alert_series, alerts, metric_executions
from tocsin.metrics.extract import Extracted, ValueSelector
from tocsin.metrics.model import Execution, observe_series
from tocsin.metrics.series import Series, SeriesSet
from tocsin.metrics.store import row_to_execution

# An absent series is forgotten (its row deleted) once unseen this long.
FORGET_AFTER = timedelta(days=7)


def batch_shape(rows: Sequence[Row[Any]]) -> tuple[int, uuid.UUID | None, int]:
    """Of a batch's rows: how many alerts, the last one's id, and the deepest lookback a
    relative-change alert among them needs."""
    ids = {row[_ID] for row in rows}
    depth = max((row[_LOOKBACK] for row in rows if row[_CONDITION] == "relative_change"), default=0)
    return len(ids), rows[-1][_ID] if rows else None, depth


def too_many_series(count: int, limit: int) -> Extracted:
    """What a run with more watched series than ``TOCSIN_MAX_SERIES_PER_ALERT`` is for
    each of them: an error, with none evaluated."""
    return Extracted(
        "error",
        None,
        f"{count:,} series, more than TOCSIN_MAX_SERIES_PER_ALERT ({limit:,}): none evaluated",
    )


class SeriesReader:
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
            self._earlier = earlier_runs(conn, metric_id, execution, selector, depth)
            self._baselines = {}

    def members(
        self, rows: Sequence[Row[Any]], at: datetime
    ) -> tuple[list[BatchAlert], list[uuid.UUID]]:
        """The batch's items, and the series to forget (absent for FORGET_AFTER)."""
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
            return too_many_series(len(series), self._limit)
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
    "resolve_missing_after", "drop_resolve_when_muted", "on_no_data", "on_error",
    "failure_notice", "repeat_every_seconds", "recovery_op", "recovery_threshold",
    "recover_from", "for_seconds", "keep_firing_seconds", "series_filter", "action_json",
)  # fmt: skip
_SERIES_COLUMNS: tuple[str, ...] = (
    "series_id", "series_key", "labels", "last_seen_at", "state", "consecutive_breaches",
    "last_triggered_at", "last_evaluated_at", "episode_notified", "missing_runs",
    "failure_notified", "last_failure_notice_at", "episode_baseline", "breaching_since",
    "cleared_since",
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


def lock_batch(
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


def earlier_runs(
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
