"""The latest notification of each alert, and whether it reached anyone.

Read beside the alert wherever notifying is shown (``alert show``, the UI's badge), so a
webhook answering 404 is never presented as "notified"."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from tocsin.alerts.notified import failure_words
from tocsin.alerts.outbox import Delivery, row_to_delivery
from tocsin.db.schema import notification_deliveries as nd


def last_deliveries(
    conn: Connection, org_id: uuid.UUID, alert_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Delivery]:
    """Each alert's newest delivery (of any kind), by alert id; alerts without any are absent."""
    ids = list(set(alert_ids))
    if not ids:
        return {}
    ranked = (
        select(
            nd,
            func.row_number()
            .over(partition_by=nd.c.alert_id, order_by=(nd.c.created_at.desc(), nd.c.id))
            .label("rank"),
        )
        .where(nd.c.org_id == org_id, nd.c.alert_id.in_(ids))
        .subquery()
    )
    rows = conn.execute(select(*[ranked.c[c.name] for c in nd.c]).where(ranked.c.rank == 1))
    return {d.alert_id: d for d in (row_to_delivery(r) for r in rows)}


def delivery_summary(delivery: Delivery | None) -> dict[str, Any] | None:
    """``{id, kind, status, attempts, error, at}``: what ``alert show --json`` says."""
    if delivery is None:
        return None
    failed = delivery.status != "sent" and (delivery.last_error or delivery.response_status)
    return {
        "id": str(delivery.id),
        "kind": delivery.kind,
        "channel": delivery.action.get("type"),
        "status": delivery.status,
        "attempts": delivery.attempts,
        "error": failure_words(delivery) if failed else None,
        "at": (delivery.sent_at or delivery.created_at).isoformat(),
    }


def delivery_failed(delivery: Delivery | None) -> bool:
    """Whether the alert's last notification failed for good (the UI's warning badge)."""
    return delivery is not None and delivery.status in ("failed", "dead")
