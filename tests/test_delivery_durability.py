"""Deliveries survive worker deaths: each outcome is on disk as soon as its send ends,
and a delivery whose worker died at its last allowed attempt ends ``dead`` instead of
being sent an extra time. On SQLite and PostgreSQL, against real local receivers."""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.channels.channel_support import Recorded, Reply, Sink
from tests.test_delivery import _deliver, _fire, _make_due
from tocsin.alerts.claims import Claim, claim_due
from tocsin.alerts.outbox import Delivery, DeliveryStore, Outcome, record_outcomes
from tocsin.db.database import Database
from tocsin.http import AddressPolicy, UrlRefused


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.0.0.5", "a private address"),
        ("127.0.0.1", "a loopback address"),
        ("169.254.169.254", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "a non-public address"),
    ],
)
def test_refusals_name_the_address_category_with_the_right_article(
    address: str, phrase: str
) -> None:
    with pytest.raises(UrlRefused) as info:
        AddressPolicy().check(ipaddress.ip_address(address), host=address)
    assert f"refused to connect to {address}, {phrase};" in info.value.message


# Deliveries ---------------------------------------------------------------------------

LOST = "gave up after 3 attempts (worker lost during attempt 3)"


def _row(db: Database, org_id: uuid.UUID) -> Delivery:
    with db.connect() as conn:
        [row] = DeliveryStore(conn, org_id).list()
    return row


def _lose_worker(db: Database) -> Claim:
    """A worker claims the due delivery and dies before reporting; its lease runs out."""
    [claim] = claim_due(db, limit=10, lease_seconds=0.05, max_attempts=3).claims
    time.sleep(0.1)
    return claim


def test_each_outcome_is_written_as_soon_as_its_send_ends(
    db_url: str, db: Database, org_id: uuid.UUID, sink: Sink
) -> None:
    answered: dict[str, float] = {}

    def reply(rec: Recorded) -> Reply:
        answered[rec.path] = time.monotonic()
        return Reply(200, delay=2.0 if rec.path == "/slow" else 0.0)

    sink.default = reply
    fast_id, slow_id = _fire(
        db,
        org_id,
        [
            {"type": "webhook", "url": f"{sink.url}/fast"},
            {"type": "webhook", "url": f"{sink.url}/slow"},
        ],
    )
    seen: dict[str, Any] = {}
    done = threading.Event()

    def watch() -> None:
        # Another Database: its own engine and connections, as another process reads.
        reader = Database(db_url)
        try:
            while not done.is_set():
                with reader.connect() as conn:
                    rows = {d.id: d for d in DeliveryStore(conn, org_id).list()}
                if rows[fast_id].status == "sent":
                    seen.update(at=time.monotonic(), slow=rows[slow_id].status)
                    return
                time.sleep(0.005)
        finally:
            reader.dispose()

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcomes = _deliver(db)
    finally:
        done.set()
        watcher.join(10)
    assert {o.delivery_id: o.status for o in outcomes} == {fast_id: "sent", slow_id: "sent"}
    assert seen, "the fast delivery was never seen sent"
    # Its answer is on disk at once, while the slow receiver still holds its own.
    assert seen["at"] - answered["/fast"] < 0.1, seen["at"] - answered["/fast"]
    assert seen["slow"] == "pending" and seen["at"] < answered["/slow"] + 2.0
    with db.connect() as conn:
        assert {d.status for d in DeliveryStore(conn, org_id).list()} == {"sent"}


def test_a_worker_lost_during_the_last_allowed_attempt_ends_the_delivery_dead(
    db: Database, org_id: uuid.UUID, sink: Sink
) -> None:
    sink.default = Reply(500)
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    for _ in range(2):
        [outcome] = _deliver(db)
        assert outcome.status == "pending"
        _make_due(db)
    lost = _lose_worker(db)
    assert lost.attempts == 3 and _row(db, org_id).status == "pending"

    [outcome] = _deliver(db)  # the next claim pass
    assert (outcome.status, outcome.error) == ("dead", LOST)
    row = _row(db, org_id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, LOST)
    assert len(sink.requests) == 2  # never a fourth attempt (the third never got out)
    _make_due(db)
    assert _deliver(db) == [] and _row(db, org_id).attempts == 3
    # The lost worker comes back with an answer: the delivery is no longer its to settle.
    late = Outcome(lost.id, lost.attempts, "sent", None, 200, None, 5, datetime.now(UTC))
    assert record_outcomes(db, [late]) == 0
    assert _row(db, org_id).status == "dead"


def test_workers_lost_on_every_attempt_never_exceed_the_limit(
    db: Database, org_id: uuid.UUID, sink: Sink
) -> None:
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    attempts = [_lose_worker(db).attempts for _ in range(3)]
    assert attempts == [1, 2, 3]
    assert claim_due(db, limit=10, lease_seconds=60, max_attempts=3).claims == []
    row = _row(db, org_id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 3, LOST)
    assert sink.requests == []


def test_a_delivery_retried_by_hand_gets_its_one_more_attempt(
    db: Database, org_id: uuid.UUID, sink: Sink
) -> None:
    sink.default = Reply(500)
    _fire(db, org_id, {"type": "webhook", "url": f"{sink.url}/h"})
    for _ in range(3):
        _make_due(db)
        _deliver(db)
    dead = _row(db, org_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    # Retried past the limit by hand: the attempt is sent, not taken for a lost worker's.
    with db.begin() as conn:
        DeliveryStore(conn, org_id).retry(dead.id)
    [outcome] = _deliver(db)
    assert outcome.status == "dead" and "gave up after 4 attempts" in (outcome.error or "")
    assert len(sink.requests) == 4
    # Retried again, and this time its worker is lost: it ends there.
    with db.begin() as conn:
        DeliveryStore(conn, org_id).retry(dead.id)
    assert _lose_worker(db).attempts == 5
    [outcome] = _deliver(db)
    assert outcome.error == "gave up after 5 attempts (worker lost during attempt 5)"
    row = _row(db, org_id)
    assert (row.status, row.attempts) == ("dead", 5) and len(sink.requests) == 4
