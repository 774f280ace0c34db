"""The notification outbox: ``notification_deliveries`` rows, claimed and settled.

Workers claim due rows (``tocsin.alerts.claims``), send them, and write each result
back here only if the row still carries the attempt number claimed, so a worker whose
lease ran out cannot overwrite a newer attempt (nor revive a row a claim ended).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import (
    Connection,
    Row,
    insert,
    select,
    update,
)

from tocsin.alerts.actions import Notification, redact_action
from tocsin.alerts.actions.base import NotificationKind
from tocsin.alerts.claims import Claim
from tocsin.alerts.model import Alert
from tocsin.clock import utcnow
from tocsin.db.bulk import update_rows
from tocsin.db.database import Database
from tocsin.db.schema import notification_deliveries as nd
from tocsin.errors import InvalidInput, NotFound
from tocsin.metrics.store import as_uuid

DeliveryStatus = Literal["pending", "sent", "failed", "dead"]
STATUSES = ("pending", "sent", "failed", "dead")


class Delivery(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    alert_id: uuid.UUID
    history_id: uuid.UUID | None
    kind: NotificationKind
    action: dict[str, Any]
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = None
    response_status: int | None = None
    duration_ms: int | None = None
    idempotency_key: str
    created_at: datetime
    sent_at: datetime | None = None
    series_id: uuid.UUID | None = None  # the series the notification is about
    labels: dict[str, str] | None = None

    def settled(self, outcome: Outcome) -> Delivery:
        """This delivery as ``outcome`` left it (what ``record_outcomes`` wrote)."""
        return self.model_copy(
            update={
                "status": outcome.status,
                "next_attempt_at": outcome.next_attempt_at or self.next_attempt_at,
                "response_status": outcome.response_status,
                "last_error": outcome.error,
                "duration_ms": outcome.duration_ms,
                "sent_at": outcome.sent_at,
            }
        )

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"payload", "org_id"})
        if self.series_id is not None and self.labels is None:
            data["labels"] = {}  # the one series of a metric without series
        data["action"] = redact_action(self.action)
        data["channel"] = self.action.get("type")
        return data


def row_to_delivery(row: Row[Any]) -> Delivery:
    # Typed by our own schema's columns already: workers claim hundreds at a time.
    return Delivery.model_construct(**row._asdict())


def to_notification(delivery: Delivery | Claim) -> Notification:
    p = delivery.payload
    return Notification(
        kind=delivery.kind,
        org_id=p["org_id"],
        alert_id=p["alert_id"],
        alert_name=p["alert_name"],
        metric_id=p["metric_id"],
        metric_name=p["metric_name"],
        value=None if p.get("value") is None else Decimal(p["value"]),
        baseline_value=None if p.get("baseline_value") is None else Decimal(p["baseline_value"]),
        condition=p["condition"],
        state=p["state"],
        reason=p["reason"],
        evaluated_at=datetime.fromisoformat(p["evaluated_at"]),
        link=p.get("link"),
        idempotency_key=delivery.idempotency_key,
        labels=p.get("labels") or {},
    )


def delivery_rows(
    alert: Any,
    kind: str,
    payload: dict[str, Any],
    history_id: uuid.UUID | None,
    now: datetime,
    *,
    lease_until: datetime | None = None,
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> list[dict[str, Any]]:
    """One pending delivery per action of ``alert``; each is sent and retried on its own.

    With ``lease_until`` the rows are born claimed (first attempt under way, invisible to
    other workers until then): the caller sends them itself, without a claim round trip.
    ``new_id`` makes the delivery ids (the evaluator draws them in bulk).
    """
    rows = []
    config = alert.action_config
    for index, action in enumerate([config] if isinstance(config, dict) else config):
        delivery_id = new_id()
        rows.append(
            {
                "id": delivery_id,
                "org_id": alert.org_id,
                "alert_id": alert.id,
                "history_id": history_id,
                "kind": kind,
                "action": action,
                "payload": payload,
                "status": "pending",
                "attempts": 0 if lease_until is None else 1,
                "next_attempt_at": now if lease_until is None else lease_until,
                "idempotency_key": f"{history_id or delivery_id}-{index}",
                "created_at": now,
            }
        )
    return rows


def enqueue(
    conn: Connection,
    alert: Alert,
    kind: str,
    payload: dict[str, Any],
    history_id: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    rows = delivery_rows(alert, kind, payload, history_id, utcnow())
    if rows:
        conn.execute(insert(nd), rows)
    return [row["id"] for row in rows]


class DeliveryStore:
    """Reading and retrying deliveries, scoped to one org."""

    def __init__(self, conn: Connection, org_id: uuid.UUID) -> None:
        self.conn = conn
        self.org_id = org_id

    def list(
        self,
        *,
        status: str | None = None,
        alert_id: uuid.UUID | None = None,
        ids: list[uuid.UUID] | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        query = select(nd).where(nd.c.org_id == self.org_id)
        if status is not None:
            if status not in STATUSES:
                raise InvalidInput("status", f"expected one of {', '.join(STATUSES)}")
            query = query.where(nd.c.status == status)
        if alert_id is not None:
            query = query.where(nd.c.alert_id == alert_id)
        if ids is not None:
            query = query.where(nd.c.id.in_(ids))
        rows = self.conn.execute(query.order_by(nd.c.created_at.desc(), nd.c.id).limit(limit))
        return [row_to_delivery(r) for r in rows]

    def get(self, ref: str | uuid.UUID) -> Delivery:
        ident = as_uuid(ref)
        row = None
        if ident is not None:
            row = self.conn.execute(
                select(nd).where(nd.c.id == ident, nd.c.org_id == self.org_id)
            ).first()
        if row is None:
            raise NotFound("delivery", str(ref))
        return row_to_delivery(row)

    def retry(self, ref: str | uuid.UUID) -> Delivery:
        """Make a failed or dead delivery due again now (one more attempt)."""
        delivery = self.get(ref)
        if delivery.status == "sent":
            raise InvalidInput("id", "this delivery was already sent")
        self.conn.execute(
            update(nd)
            .where(nd.c.id == delivery.id, nd.c.org_id == self.org_id)
            .values(status="pending", next_attempt_at=utcnow())
        )
        return self.get(delivery.id)


# Workers: not org-scoped, they serve every org (claiming: tocsin.alerts.claims) ------


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    attempts: int  # the attempt this outcome settles
    status: DeliveryStatus
    next_attempt_at: datetime | None
    response_status: int | None
    error: str | None
    duration_ms: int
    sent_at: datetime | None


def record_outcomes(db: Database, outcomes: list[Outcome]) -> int:
    """Write results; returns how many rows still belonged to the claimed attempt."""
    if not outcomes:
        return 0
    with db.begin() as conn:
        return write_outcomes(conn, outcomes)


def write_outcomes(conn: Connection, outcomes: list[Outcome]) -> int:
    """``record_outcomes`` in the caller's transaction."""
    if not outcomes:
        return 0
    now = utcnow()
    rows = [
        {
            "id": o.delivery_id,
            "attempts": o.attempts,
            "status": o.status,
            "next_attempt_at": o.next_attempt_at or now,
            "response_status": o.response_status,
            "last_error": o.error,
            "duration_ms": o.duration_ms,
            "sent_at": o.sent_at,
        }
        for o in outcomes
    ]
    # Matching on the attempt claimed: a worker whose lease ran out writes nothing.
    return update_rows(conn, nd, ("id", "attempts"), rows, where=f"{nd.name}.status = 'pending'")
