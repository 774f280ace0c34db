"""Workers claiming due deliveries: one conditional UPDATE per batch.

The UPDATE takes rows still pending and due (on PostgreSQL ``FOR UPDATE SKIP LOCKED``),
pushes ``next_attempt_at`` forward by a lease and counts the attempt; only what it
returns is the worker's to send. A worker that dies mid-send leaves the row pending, to
be claimed again when the lease ends -- unless that was the last attempt
``TOCSIN_DELIVERY_MAX_ATTEMPTS`` allows: then the same UPDATE ends the row ``dead``
instead, so repeated worker deaths never add attempts past the limit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    ColumnElement,
    String,
    Text,
    Update,
    and_,
    bindparam,
    case,
    cast,
    literal_column,
    select,
    update,
)

from tocsin.alerts.actions.base import NotificationKind
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import notification_deliveries as nd


class Claim(NamedTuple):
    """A delivery a worker claimed: what sending it needs, nothing more (workers claim
    hundreds at a time, and a full ``Delivery`` model costs more to build than to send)."""

    id: uuid.UUID
    attempts: int
    kind: NotificationKind
    action: dict[str, Any]
    payload: dict[str, Any]
    idempotency_key: str


# The JSON comes back as text, decoded here: an alert's deliveries repeat one action.
# ``gave_up`` is the error a claim wrote when it ended the delivery instead (else NULL).
_CLAIMED_COLUMNS = (
    nd.c.id,
    nd.c.attempts,
    nd.c.kind,
    cast(nd.c.action, Text).label("action"),
    cast(nd.c.payload, Text).label("payload"),
    nd.c.idempotency_key,
    case((nd.c.status == "dead", nd.c.last_error), else_=None).label("gave_up"),
)


class ClaimBatch(NamedTuple):
    claims: list[Claim]  # this worker's to send
    # Deliveries whose last allowed attempt was under way when its worker was lost: the
    # claim ended them ``dead`` (the Claim's ``attempts`` is that last attempt) with this
    # error, rather than sending them once more than the limit.
    lost: list[tuple[Claim, str]]


def _claims(rows: Iterable[Sequence[Any]]) -> ClaimBatch:  # rows of _CLAIMED_COLUMNS
    actions: dict[str, dict[str, Any]] = {}
    claimed: list[Claim] = []
    lost: list[tuple[Claim, str]] = []
    for row in rows:
        id_, attempts, kind, action_json, payload_json, key, gave_up = row
        action = actions.get(action_json)
        if action is None:
            # Shared by the claims of one batch: nothing downstream mutates an action.
            action = actions[action_json] = _loads(action_json)
        claim = Claim(id_, attempts, kind, action, _loads(payload_json), key)
        if gave_up is None:
            claimed.append(claim)
        else:
            lost.append((claim, gave_up))
    return ClaimBatch(claimed, lost)


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # NaN and Infinity, which Python's json writes and reads but JSON does not have.
        return json.loads(text)


def _lost_worker_error() -> ColumnElement[str]:
    """'gave up after N attempts (worker lost during attempt N)', N the row's attempts."""
    n = cast(nd.c.attempts, String)
    noun = case(
        (nd.c.attempts == 1, literal_column("' attempt'", String)),
        else_=literal_column("' attempts'", String),
    )
    return (
        literal_column("'gave up after '", String)
        + n
        + noun
        + literal_column("' (worker lost during attempt '", String)
        + n
        + literal_column("')'", String)
    )


def _claim_statement(*, by_ids: bool, skip_locked: bool) -> Update:
    due = and_(nd.c.status == "pending", nd.c.next_attempt_at <= bindparam("now"))
    pick = select(nd.c.id).where(due)
    if by_ids:
        pick = pick.where(nd.c.id.in_(bindparam("ids", expanding=True)))
    pick = pick.order_by(nd.c.next_attempt_at).limit(bindparam("limit"))
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    # A claim clears duration_ms and every outcome sets it: a due row at the limit with
    # none is one whose last allowed attempt never reported back (its lease ran out).
    # One at the limit with a duration was retried by hand, and gets its one attempt.
    lost = and_(nd.c.attempts >= bindparam("max_attempts"), nd.c.duration_ms.is_(None))
    lease_until = bindparam("lease_until", type_=nd.c.next_attempt_at.type)
    return (
        update(nd)
        .where(nd.c.id.in_(pick.scalar_subquery()), due)
        .values(
            attempts=case((lost, nd.c.attempts), else_=nd.c.attempts + 1),
            status=case((lost, literal_column("'dead'", String)), else_=nd.c.status),
            last_error=case((lost, _lost_worker_error()), else_=nd.c.last_error),
            next_attempt_at=case((lost, nd.c.next_attempt_at), else_=lease_until),
            duration_ms=None,
        )
        .returning(*_CLAIMED_COLUMNS)
    )


# Built once: workers claim continuously.
_CLAIMS = {(by_ids, skip): _claim_statement(by_ids=by_ids, skip_locked=skip)
           for by_ids in (False, True) for skip in (False, True)}  # fmt: skip


def claim_due(
    db: Database,
    *,
    limit: int,
    lease_seconds: float,
    max_attempts: int,
    ids: list[uuid.UUID] | None = None,
    now: datetime | None = None,
) -> ClaimBatch:
    """Claim up to ``limit`` due deliveries for one attempt each, in one UPDATE.

    A delivery that would go past ``max_attempts`` because a worker was lost during
    its last allowed attempt is not claimed but ended ``dead`` (``ClaimBatch.lost``).
    """
    now = now or utcnow()
    params: dict[str, Any] = {
        "now": now,
        "limit": limit,
        "lease_until": now + timedelta(seconds=lease_seconds),
        "max_attempts": max_attempts,
    }
    if ids is not None:
        params["ids"] = ids
    with db.begin() as conn:
        return _claims(conn.execute(_CLAIMS[(ids is not None, not db.is_sqlite)], params))
