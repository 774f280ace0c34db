"""The reads behind the pages. Each is one or two indexed queries whatever the number of
alerts or history rows, so a page costs the same with ten alerts or a thousand."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    String,
    bindparam,
    func,
    select,
    type_coerce,
)

from tocsin.alerts.last_delivery import delivery_failed, last_deliveries
from tocsin.alerts.model import Alert
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.alerts.words import condition_words
from tocsin.db.schema import alert_history, alerts, metric_executions, metrics
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.store import row_to_execution, row_to_metric
from tocsin.web.chart import (
    MAX_POINTS,
    ChartData,
    epoch_ms,
    finite_float,
    mark_evaluations,
    range_start,
    sparkline,
)

me = metric_executions
SPARK_RUNS = 30
# Alerts per page of the list: a thousand rows would weigh ~800 KB, re-sent on every
# live refresh, and take the browser half a second to lay out.
LIST_PAGE = 100
ALERT_STATES = ("ok", "pending", "triggered", "no_data", "error")
FILTER_STATES = (*ALERT_STATES, "muted", "disabled")


# What the list shows: the whole alert (its actions' JSON above all) would cost more
# to load than the page takes to render.
_LIST_COLUMNS = [
    alerts.c[name]
    for name in (
        "id",
        "name",
        "metric_id",
        "state",
        "enabled",
        "muted_until",
        "last_value",
        "last_triggered_at",
        "condition_type",
        "comparison_op",
        "threshold_value",
        "change_mode",
        "lookback",
        "cooldown_seconds",
        "pending_evaluations",
        "notify_on_resolve",
    )
]


@dataclass
class AlertRow:
    alert: Row[Any]
    metric_name: str
    condition: str
    muted: bool
    spark: str
    # The alert's last notification failed or died: it reached no one.
    notify_failed: bool = False
    # Of its series, how many are triggered and how many there are.
    triggered_series: int = 0
    series_count: int = 0
    # In no_data or error: why, from its latest history row saying so (the hover text).
    problem: str = ""


_UNREADABLE = ("no_data", "error")


def failure_reasons(
    conn: Connection, org_id: uuid.UUID, alert_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Of these alerts, the latest reason each gave for no data or an error: one indexed
    lookup per alert (``ix_alert_history_alert_evaluated``), for a page of the list."""
    ah = alert_history
    ids = list(alert_ids)
    if not ids:
        return {}
    latest = (
        select(ah.c.reason)
        .where(ah.c.alert_id == alerts.c.id, ah.c.org_id == org_id, ah.c.state_to.in_(_UNREADABLE))
        .order_by(ah.c.evaluated_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(alerts.c.id, latest.label("reason")).where(
            alerts.c.org_id == org_id, alerts.c.id.in_(ids)
        )
    )
    return {row.id: row.reason for row in rows if row.reason}


def _recent_values_statement() -> Select[Any]:
    """The last SPARK_RUNS readable values of every metric of an org, in one statement.

    A materialised CTE finds each metric's cutoff time (its 30th-latest run, or its
    oldest) through the (metric_id, completed_at) index; the join then reads only each
    metric's rows after its cutoff, as an index range. Without MATERIALIZED, SQLite
    inlines the CTE and re-runs the cutoff subquery for every execution row."""
    latest = me.alias("latest")
    readable = (
        latest.c.metric_id == metrics.c.id,
        latest.c.completed_at.is_not(None),
        latest.c.value.is_not(None),
    )
    nth = (
        select(latest.c.completed_at)
        .where(*readable)
        .order_by(latest.c.completed_at.desc())
        .limit(1)
        .offset(SPARK_RUNS - 1)
        .scalar_subquery()
    )
    oldest = select(func.min(latest.c.completed_at)).where(*readable).scalar_subquery()
    c = (
        select(metrics.c.id, func.coalesce(nth, oldest).label("cutoff"))
        .where(
            metrics.c.org_id == bindparam("org_id"),
            metrics.c.id.in_(bindparam("metric_ids", expanding=True)),
        )
        .cte("cutoffs")
        .prefix_with("MATERIALIZED")
    )
    return (
        select(me.c.metric_id, me.c.value)
        .join(c, me.c.metric_id == c.c.id)
        .where(me.c.completed_at >= c.c.cutoff, me.c.value.is_not(None))
        .order_by(me.c.metric_id, me.c.completed_at)
    )


# Built once: building this statement costs more than running it.
_RECENT_VALUES = _recent_values_statement()


def recent_values(
    conn: Connection, org_id: uuid.UUID, metric_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[float]]:
    """The last SPARK_RUNS readable values of each of these metrics, oldest first."""
    out: dict[uuid.UUID, list[float]] = {}
    ids = list(set(metric_ids))
    if not ids:
        return out
    for row in conn.execute(_RECENT_VALUES, {"org_id": org_id, "metric_ids": ids}):
        out.setdefault(row.metric_id, []).append(float(row.value))
    return out


@dataclass
class AlertPage:
    rows: list[AlertRow]
    total: int  # alerts matching the filters, on every page


def alert_rows(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    now: datetime,
    state: str | None = None,
    metric_id: uuid.UUID | None = None,
    text: str | None = None,
    limit: int = LIST_PAGE,
    offset: int = 0,
) -> AlertPage:
    """A page of the org's alerts by name, under the list's filters."""
    where = [alerts.c.org_id == org_id]
    if metric_id is not None:
        where.append(alerts.c.metric_id == metric_id)
    if state == "muted":
        where.append(alerts.c.muted_until > now)
    elif state == "disabled":
        where.append(alerts.c.enabled.is_(False))
    elif state is not None:
        where.append(alerts.c.state == state)
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(alerts.c.name.ilike(pattern, escape="\\"))
    query: Select[Any] = (
        select(*_LIST_COLUMNS, metrics.c.name.label("metric_name"))
        .join(metrics, metrics.c.id == alerts.c.metric_id)
        .where(*where)
        .order_by(alerts.c.name, alerts.c.id)
        .limit(limit)
        .offset(offset)
    )
    found: list[Row[Any]] = list(conn.execute(query))
    if len(found) < limit and (found or offset == 0):
        total = offset + len(found)
    else:
        total = conn.execute(select(func.count()).select_from(alerts).where(*where)).scalar_one()
    values = recent_values(conn, org_id, (a.metric_id for a in found))
    last = last_deliveries(conn, org_id, (a.id for a in found))
    summary = AlertStore(conn, org_id).series_summary([a.id for a in found])
    problems = failure_reasons(conn, org_id, (a.id for a in found if a.state in _UNREADABLE))
    shapes: dict[uuid.UUID, str] = {}
    rows = []
    for alert in found:
        if alert.metric_id not in shapes:
            shapes[alert.metric_id] = sparkline(values.get(alert.metric_id, []))
        muted = alert.muted_until is not None and alert.muted_until > now
        words = condition_words(alert.metric_name, rule_of(alert))
        failed = delivery_failed(last.get(alert.id))
        states = summary[alert.id][0]
        hot, total_series = states.get("triggered", 0), sum(states.values())
        rows.append(
            AlertRow(
                alert, alert.metric_name, words, muted, shapes[alert.metric_id], failed,
                hot, total_series, problems.get(alert.id, ""),
            )
        )  # fmt: skip
    return AlertPage(rows, total)


@dataclass
class MetricRow:
    metric: Metric
    last: Execution | None
    alert_count: int
    spark: str


def metric_rows(conn: Connection, org_id: uuid.UUID) -> list[MetricRow]:
    last_id = (
        select(me.c.id)
        .where(me.c.metric_id == metrics.c.id, me.c.completed_at.is_not(None))
        .order_by(me.c.completed_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    found = list(
        conn.execute(
            select(metrics, last_id.label("last_execution"))
            .where(metrics.c.org_id == org_id)
            .order_by(metrics.c.name)
        )
    )
    ids = [r.last_execution for r in found if r.last_execution is not None]
    last = {
        e.id: e for e in map(row_to_execution, conn.execute(select(me).where(me.c.id.in_(ids))))
    }
    counts: dict[uuid.UUID, int] = {}
    for (mid,) in conn.execute(select(alerts.c.metric_id).where(alerts.c.org_id == org_id)):
        counts[mid] = counts.get(mid, 0) + 1
    values = recent_values(conn, org_id, (r.id for r in found))
    return [
        MetricRow(
            row_to_metric(r),
            last.get(r.last_execution),
            counts.get(r.id, 0),
            sparkline(values.get(r.id, [])),
        )
        for r in found
    ]


def _runs(org_id: uuid.UUID, metric_id: uuid.UUID, start: datetime | None) -> Select[Any]:
    """A metric's latest finished runs in a range, newest first, one past the limit (so
    the chart can say it was cut)."""
    # The ids only pair runs with evaluations: kept as the driver returns them, which
    # spares 20,000 UUID conversions on a long range.
    run_key = type_coerce(me.c.id, String).label("key")
    runs = (
        select(run_key, me.c.completed_at, me.c.value, me.c.status, me.c.error)
        .where(
            me.c.org_id == org_id,
            me.c.metric_id == metric_id,
            me.c.completed_at.is_not(None),
        )
        .order_by(me.c.completed_at.desc())
        .limit(MAX_POINTS + 1)
    )
    return runs if start is None else runs.where(me.c.completed_at >= start)


def _values_only(found: list[Row[Any]]) -> ChartData:
    out = ChartData(truncated=len(found) > MAX_POINTS)
    found = found[:MAX_POINTS]
    found.reverse()
    n = len(found)
    out.t = [epoch_ms(run.completed_at) / 1000 for run in found]
    out.value = [finite_float(run.value) for run in found]
    out.fired, out.suppressed, out.resolved = [None] * n, [None] * n, [None] * n
    out.limit, out.baseline = [None] * n, [None] * n
    out.reason = [
        "" if run.status == "completed" else f"run {run.status}: {run.error or 'no reason given'}"
        for run in found
    ]
    return out


def metric_chart_data(
    conn: Connection, org_id: uuid.UUID, metric_id: uuid.UUID, range_name: str, *, now: datetime
) -> ChartData:
    """A metric's runs in the range, for its own page: values alone, no alert's events."""
    start = range_start(range_name, now)
    return _values_only(list(conn.execute(_runs(org_id, metric_id, start)).all()))


def chart_data(
    conn: Connection, org_id: uuid.UUID, alert: Alert, range_name: str, *, now: datetime
) -> ChartData:
    """The metric's runs in the range with the alert's limit line and its events."""
    start = range_start(range_name, now)
    runs = _runs(org_id, alert.metric_id, start)
    ah = alert_history
    evaluations = select(
        type_coerce(ah.c.execution_id, String).label("key"),
        ah.c.baseline_value,
        ah.c.state_from,
        ah.c.state_to,
        ah.c.notified,
        ah.c.reason,
    ).where(ah.c.org_id == org_id, ah.c.alert_id == alert.id, ah.c.execution_id.is_not(None))
    if start is not None:
        # History is stamped with the run's completion time, so the same bound applies.
        evaluations = evaluations.where(ah.c.evaluated_at >= start)
    found = list(conn.execute(runs).all())
    out = _values_only(found)
    found = found[:MAX_POINTS]
    found.reverse()
    by_run = {h.key: h for h in conn.execute(evaluations).all()} if found else {}
    mark_evaluations(out, rule_of(alert), [by_run.get(run.key) for run in found])
    return out
