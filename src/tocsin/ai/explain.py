"""Why an alert fired or did not, in words: its condition and its last evaluations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts.decision import describe_condition
from tocsin.alerts.model import Alert
from tocsin.alerts.notified import notify_words
from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.alerts.words import condition_words
from tocsin.clock import utcnow
from tocsin.metrics.store import MetricStore

EXPLAIN_ROWS = 5


def explain(conn: Connection, org_id: uuid.UUID, alert: Alert) -> dict[str, Any]:
    """The alert's last evaluations and their reasons, newest first, in words."""
    store = AlertStore(conn, org_id)
    metric = MetricStore(conn, org_id).get(alert.metric_id)
    rows = list(store.history(alert.id, limit=EXPLAIN_ROWS))
    rule = rule_of(alert)
    status = [alert.state] + ([] if alert.enabled else ["disabled: not evaluated"])
    if alert.muted_until is not None and alert.muted_until > utcnow():
        status.append(f"muted until {alert.muted_until.strftime('%Y-%m-%d %H:%M UTC')}")
    lines = [
        f'"{alert.name}" fires when {condition_words(metric.name, rule)} '
        f"({describe_condition(rule)}); it is {', '.join(status)}."
    ]
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
            lines.append(f"- {when}: {row.reason} ({row.state_from} -> {row.state_to}, {sent})")
    return {
        "alert": alert.public(),
        "history": [r.public() for r in rows],
        "text": "\n".join(lines),
    }
