"""The alert page's series: its table (sorted by state or value, filtered by label) and
the chart of one series, read from that series' evaluations."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from tocsin.alerts.model import Alert, SeriesRow
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.db.schema import alert_history
from tocsin.metrics.series import describe_labels
from tocsin.web.chart import (
    MAX_POINTS,
    ChartData,
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
    if needle:
        found = [s for s in found if needle in describe_labels(s.labels).lower()]
    if sort == "value":
        found.sort(key=lambda s: (s.last_value is None, -(s.last_value or Decimal(0))))
    elif sort == "labels":
        found.sort(key=lambda s: s.series_key)
    picked = next((s for s in found if s.id == chosen), None) if chosen else None
    if picked is None and total > 1 and found:
        picked = found[0]
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
