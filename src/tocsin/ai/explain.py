"""Why an alert fired or did not, in words: its condition and its last evaluations; for
an alert over several series, how many are in which state, the triggered ones by name,
and the series of each evaluation."""

from __future__ import annotations

import uuid
from itertools import takewhile
from typing import Any

from sqlalchemy import Connection

from tocsin.ai.series_preview import series_words
from tocsin.alerts.batch import SERIES_STATE_RANK
from tocsin.alerts.decision import NOT_SENT, describe_condition
from tocsin.alerts.model import Alert, HistoryRow, SeriesRow
from tocsin.alerts.notified import notify_words
from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.alerts.words import condition_words
from tocsin.clock import utcnow
from tocsin.metrics.store import MetricStore
from tocsin.numbers import format_decimal

EXPLAIN_ROWS = 5
# An alert over several series: more rows (one run writes one per series), and this many
# triggered series named.
EXPLAIN_SERIES_ROWS = 10
NAMED_TRIGGERED = 10


def explain(conn: Connection, org_id: uuid.UUID, alert: Alert) -> dict[str, Any]:
    """The alert's last evaluations and their reasons, newest first, in words."""
    store = AlertStore(conn, org_id)
    metric = MetricStore(conn, org_id).get(alert.metric_id)
    series = store.series(alert.id)
    several = len(series) > 1
    rows = list(store.history(alert.id, limit=EXPLAIN_SERIES_ROWS if several else EXPLAIN_ROWS))
    rule = rule_of(alert)
    status = [alert.state] + ([] if alert.enabled else ["disabled: not evaluated"])
    if alert.muted_until is not None and alert.muted_until > utcnow():
        status.append(f"muted until {alert.muted_until.strftime('%Y-%m-%d %H:%M UTC')}")
    lines = [
        f'"{alert.name}" fires when {condition_words(metric.name, rule)} '
        f"({describe_condition(rule)}); it is {', '.join(status)}."
    ]
    cause = _broken_data(rows)
    if cause:
        lines.append(cause)
    if several:
        lines += _series_lines(series)
    if not rows:
        lines.append(f"It has not been evaluated yet: {metric.name} has not run since.")
    else:
        lines.append("Last evaluations, newest first:")
        by_history: dict[uuid.UUID | None, list[Delivery]] = {}
        for delivery in DeliveryStore(conn, org_id).list(alert_id=alert.id, limit=200):
            by_history.setdefault(delivery.history_id, []).append(delivery)
        for row in rows:
            # What reached someone, not what was decided: a 404 is no notification.
            sent = notify_words(by_history.get(row.id, [])) if row.notified else "not notified"
            when = row.evaluated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            if several:
                when += f" {series_words(row.labels or {})}"
            lines.append(f"- {when}: {row.reason} ({row.state_from} -> {row.state_to}, {sent})")
    out = {
        "alert": alert.public(),
        "history": [r.public() for r in rows],
        "text": "\n".join(lines),
    }
    if several:
        out["series_states"] = _counts(series)
        out["triggered_series"] = [s.public() for s in series if s.state == "triggered"]
    return out


_UNREADABLE = ("no_data", "error")


def _broken_data(rows: list[HistoryRow]) -> str | None:
    """When the newest evaluations could not read a value, the cause in words: a broken
    source, data gone quiet, or stale data, with what the source said."""
    spell = list(takewhile(lambda r: r.state_to in _UNREADABLE, rows))
    if not spell:
        return None
    latest = spell[0]
    reason = latest.reason.split(NOT_SENT, 1)[0].removesuffix("; failure notice")
    if "data stale" in reason:
        what = "its data is stale"
    elif "no value received" in reason:
        what = "no value has arrived"
    elif latest.state_to == "error":
        what = "its source is failing"
    else:
        what = "its source gives no data"
    count = f"{len(spell)}{'+' if len(spell) == len(rows) else ''}"
    since = spell[-1].evaluated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"It cannot fire now: {what} ({reason}), in the last {count} "
        f"evaluation{'s' if len(spell) != 1 else ''}, since {since}."
    )


def _counts(series: list[SeriesRow]) -> dict[str, int]:
    """How many series are in each state, worst state first."""
    counts: dict[str, int] = {}
    for s in sorted(series, key=lambda s: -SERIES_STATE_RANK.get(s.state, 0)):
        counts[s.state] = counts.get(s.state, 0) + 1
    return counts


def _series_lines(series: list[SeriesRow]) -> list[str]:
    """ "Series: 2 of 12 triggered, 10 ok." and the triggered ones with their last values."""
    counts = ", ".join(f"{n} {state}" for state, n in _counts(series).items())
    lines = [f"Series: {counts} (of {len(series)})."]
    triggered = [s for s in series if s.state == "triggered"]
    if triggered:
        named = [
            series_words(s.labels)
            + (f" (last value {format_decimal(s.last_value)})" if s.last_value is not None else "")
            for s in triggered[:NAMED_TRIGGERED]
        ]
        more = len(triggered) - NAMED_TRIGGERED
        lines.append(
            "Triggered: " + ", ".join(named) + (f" and {more} more" if more > 0 else "") + "."
        )
    return lines
