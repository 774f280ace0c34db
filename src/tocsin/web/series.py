"""The alert page's series: its table (sorted by state or value, filtered by label), the
chart of one series, read from that series' evaluations, and the chart of the top ten
series by latest value as lines."""

from __future__ import annotations

import heapq
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Select, select, union_all

from tocsin.alerts.model import Alert, SeriesRow
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.db.schema import alert_history, alert_series
from tocsin.metrics.series import describe_labels
from tocsin.web.chart import (
    LINE_POINTS,
    MAX_POINTS,
    TOP_LINES,
    ChartData,
    Line,
    LinesData,
    align_lines,
    epoch_ms,
    finite_float,
    mark_evaluations,
    range_start,
)

SORTS = ("state", "value", "labels")
# Rows the page shows: a 10,000-series alert is read through the API or the CLI.
SHOWN = 500


@dataclass
class SeriesTable:
    rows: list[SeriesRow]
    total: int  # the alert's series, before the label filter
    triggered: int  # of them, triggered
    shown: int  # after it, before the page's cut
    chosen: SeriesRow | None  # the series charted
    sort: str
    label: str

    def name(self, row: SeriesRow) -> str:
        return describe_labels(row.labels) or "{}"

    @property
    def top(self) -> int:
        """How many series the top lines chart: ten, or all of fewer."""
        return min(self.total, TOP_LINES)


def by_value(value: Decimal | None, series_key: str) -> tuple[bool, Decimal, str]:
    """Highest latest value first, ties by labels; series without a number last."""
    if value is None or value.is_nan():
        return (True, Decimal(0), series_key)
    return (False, -value, series_key)


def series_table(
    conn: Connection,
    org_id: uuid.UUID,
    alert_id: uuid.UUID,
    *,
    sort: str = "state",
    label: str = "",
    chosen: uuid.UUID | None = None,
) -> SeriesTable:
    found = AlertStore(conn, org_id).series(alert_id)
    total = len(found)
    triggered = sum(1 for s in found if s.state == "triggered")
    needle = label.strip().lower()
    # Chosen, it is charted even when the label filter hides its row.
    picked = next((s for s in found if s.id == chosen), None) if chosen else None
    if needle:
        found = [s for s in found if needle in describe_labels(s.labels).lower()]
    if sort == "value":
        found.sort(key=lambda s: by_value(s.last_value, s.series_key))
    elif sort == "labels":
        found.sort(key=lambda s: s.series_key)
    return SeriesTable(
        found[:SHOWN],
        total,
        triggered,
        len(found),
        picked,
        sort if sort in SORTS else "state",
        label,
    )


def series_chart_data(
    conn: Connection,
    org_id: uuid.UUID,
    alert: Alert,
    series_id: uuid.UUID,
    range_name: str,
    *,
    now: datetime,
) -> ChartData:
    """One series' values in the range, as its evaluations recorded them, with the
    alert's limit line and the series' events."""
    ah = alert_history
    start = range_start(range_name, now)
    query = (
        select(
            ah.c.evaluated_at,
            ah.c.value,
            ah.c.baseline_value,
            ah.c.state_from,
            ah.c.state_to,
            ah.c.notified,
            ah.c.reason,
        )  # fmt: skip
        .where(ah.c.org_id == org_id, ah.c.alert_id == alert.id, ah.c.series_id == series_id)
        .order_by(ah.c.evaluated_at.desc())
        .limit(MAX_POINTS + 1)
    )
    if start is not None:
        query = query.where(ah.c.evaluated_at >= start)
    found = list(conn.execute(query).all())
    out = ChartData(truncated=len(found) > MAX_POINTS)
    found = found[:MAX_POINTS]
    found.reverse()
    out.t = [epoch_ms(h.evaluated_at) / 1000 for h in found]
    out.value = [finite_float(h.value) for h in found]
    mark_evaluations(out, rule_of(alert), found)
    return out


def top_series(
    conn: Connection, org_id: uuid.UUID, alert_id: uuid.UUID
) -> tuple[list[Row[Any]], int]:
    """The alert's TOP_LINES series with the highest latest value (ties by labels), and
    how many series it has. Ranked here: SQLite keeps exact decimals as text."""
    s = alert_series
    query = select(s.c.id, s.c.series_key, s.c.labels, s.c.last_value).where(
        s.c.org_id == org_id, s.c.alert_id == alert_id
    )
    found: list[Row[Any]] = list(conn.execute(query))
    top = heapq.nsmallest(TOP_LINES, found, key=lambda r: by_value(r.last_value, r.series_key))
    return top, len(found)


def _latest_of_each(
    org_id: uuid.UUID, series_ids: list[uuid.UUID], start: datetime | None
) -> Select[Any]:
    """One statement: each series' latest LINE_POINTS + 1 values in the range, each part
    an index range on (series_id, evaluated_at).

    The ids are the alert's own (``top_series`` read them by org and alert), so the parts
    name no ``alert_id``: with it, a planner without statistics of a fresh month (or
    SQLite, which keeps none) took the (alert_id, evaluated_at) index and read every
    series' rows of the range - 850 ms instead of 50 for 1,000 series (bench/retention.py).
    """
    ah = alert_history
    parts = []
    for series_id in series_ids:
        part = (
            select(ah.c.series_id, ah.c.evaluated_at, ah.c.value)
            .where(ah.c.org_id == org_id, ah.c.series_id == series_id)
            .order_by(ah.c.evaluated_at.desc())
            .limit(LINE_POINTS + 1)
        )
        if start is not None:
            part = part.where(ah.c.evaluated_at >= start)
        parts.append(select(part.subquery()))
    return parts[0] if len(parts) == 1 else select(union_all(*parts).subquery())


def top_series_chart_data(
    conn: Connection, org_id: uuid.UUID, alert: Alert, range_name: str, *, now: datetime
) -> LinesData:
    """The alert's top series by latest value as one line each over the range, with the
    limit line of a threshold (a relative change has a limit per series: a series' own
    chart draws it). Two statements whatever the number of series."""
    start = range_start(range_name, now)
    top, total = top_series(conn, org_id, alert.id)
    out = LinesData(series_count=total)
    if not top:
        return out
    out.lines = [
        Line(
            str(r.id),
            describe_labels(r.labels or {}) or "{}",
            dict(r.labels or {}),
            finite_float(r.last_value),
        )
        for r in top
    ]
    points: dict[str, list[tuple[float, float | None]]] = {line.series_id: [] for line in out.lines}
    for h in conn.execute(_latest_of_each(org_id, [r.id for r in top], start)):
        points[str(h.series_id)].append((epoch_ms(h.evaluated_at) / 1000, finite_float(h.value)))
    for pairs in points.values():
        if len(pairs) > LINE_POINTS:
            out.truncated = True
            pairs.sort()
            del pairs[: len(pairs) - LINE_POINTS]
    out.t = align_lines(out.lines, points)
    rule = rule_of(alert)
    limit = finite_float(rule.threshold_value) if rule.condition_type == "threshold" else None
    out.limit = [limit] * len(out.t)
    return out
