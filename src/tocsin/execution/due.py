"""Claiming due slots: the one conditional UPDATE every runtime schedules with.

A due metric is a row with ``next_run_at`` in the past. Claiming advances ``next_run_at``
only where it still holds the value read, so two schedulers never claim the same slot.
After downtime a metric runs once, and its next slot is computed from now, not from the
missed slots.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import Connection, bindparam, func, select, text, true, update

from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.run_store import DueMetric
from tocsin.metrics.schedule import Schedule

# Built once: the scheduler runs these every tick.
_DUE = (
    select(metrics.c.id, metrics.c.next_run_at, metrics.c.schedule)
    .where(
        metrics.c.enabled == true(),
        metrics.c.next_run_at.is_not(None),
        metrics.c.next_run_at <= bindparam("now"),
    )
    .order_by(metrics.c.next_run_at)
    .limit(bindparam("limit"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)
_ADVANCE = (
    update(metrics)
    .where(metrics.c.id == bindparam("b_id"), metrics.c.next_run_at == bindparam("seen"))
    .values(next_run_at=bindparam("following"))
)
_ADVANCE_BATCH = text(
    "UPDATE metrics SET next_run_at = v.following "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:seen AS timestamptz[]), "
    "CAST(:following AS timestamptz[])) AS v(id, seen, following) "
    "WHERE metrics.id = v.id AND metrics.next_run_at = v.seen "
    "RETURNING metrics.id"
).columns(metrics.c.id)
_NEXT_DUE = select(func.min(metrics.c.next_run_at)).where(
    metrics.c.enabled == true(), metrics.c.next_run_at.is_not(None)
)


class ClaimConflict(RuntimeError):
    """Slots changed under a claim that held the write lock: nothing was claimed."""


def claim_due(conn: Connection, *, now: datetime, limit: int) -> list[DueMetric]:
    """Advance ``next_run_at`` of up to ``limit`` due metrics, in ``conn``'s write
    transaction, and return the slots claimed, in the order they came due."""
    sqlite = conn.dialect.name == "sqlite"
    due = conn.execute(_DUE if sqlite else _DUE_LOCKED, {"now": now, "limit": limit}).all()
    advances = []
    for row in due:
        schedule = Schedule.model_validate(row.schedule) if row.schedule else None
        if schedule is None:
            continue
        following = schedule.next_after(row.next_run_at)
        if following <= now:
            following = schedule.next_after(now)
        advances.append({"b_id": row.id, "seen": row.next_run_at, "following": following})
    if not advances:
        return []
    if sqlite:
        # All at once (executemany). The transaction holds SQLite's write lock since
        # it read the slots (BEGIN IMMEDIATE), so none can have moved; should one have,
        # the claim is rolled back whole and made again at the next tick.
        moved = len(advances) - conn.execute(_ADVANCE, advances).rowcount
        if moved:
            raise ClaimConflict(f"{moved} due slot(s) moved while being claimed")
        advanced = {a["b_id"] for a in advances}
    else:
        # One statement for the batch: a round trip per metric cost the tick more than
        # the runs it deferred.
        advanced = set(
            conn.execute(
                _ADVANCE_BATCH,
                {
                    "ids": [a["b_id"] for a in advances],
                    "seen": [a["seen"] for a in advances],
                    "following": [a["following"] for a in advances],
                },
            ).scalars()
        )
    return [DueMetric(a["b_id"], a["seen"]) for a in advances if a["b_id"] in advanced]


def next_due(conn: Connection) -> datetime | None:
    """When the next enabled metric is due (the due-metrics index answers it)."""
    found: datetime | None = conn.execute(_NEXT_DUE).scalar()
    return found


async def next_due_in(db: Database) -> datetime | None:
    """``next_due`` from async code, on a reading connection in a worker thread."""

    def read() -> datetime | None:
        with db.connect() as conn:
            return next_due(conn)

    return await asyncio.to_thread(read)
