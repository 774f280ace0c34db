"""The run store on SQLite: one held connection, one writer thread, runs in groups.

SQLite runs in this process, so a statement costs little and the transaction around it
is most of a run's cost: the pool checkout, its event listeners, ``BEGIN IMMEDIATE``,
the commit, and the hop to a worker thread and back. The embedded runtime therefore
holds one connection for its runs and uses it from one thread of its own (SQLite has one
writer anyway), starts every slot a tick claims in the claim's transaction, and
finishes the runs that complete together in one transaction (``group_commit.py``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.execution.due import claim_due, next_due_in
from tocsin.execution.run_statements import (
    finish_runs,
    finish_unevaluated,
    start_claimed,
    start_run,
)
from tocsin.execution.run_store import FinishedRun, RunRecord, StartedRun
from tocsin.metrics.model import Execution, Trigger
from tocsin.settings import Settings

T = TypeVar("T")


class SqliteRunStore:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._held = db.hold()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="tocsin-runs")

    async def _write(self, work: Callable[[Connection], T]) -> T:
        def in_transaction() -> T:
            with self._held.begin() as conn:
                return work(conn)

        return await asyncio.get_running_loop().run_in_executor(self._thread, in_transaction)

    async def claim_and_start(self, *, limit: int) -> list[StartedRun]:
        def work(conn: Connection) -> list[StartedRun]:
            return start_claimed(conn, claim_due(conn, now=utcnow(), limit=limit))

        return await self._write(work)

    async def start(
        self, metric_id: uuid.UUID, *, trigger: Trigger, scheduled_for: datetime | None
    ) -> StartedRun:
        def work(conn: Connection) -> StartedRun:
            return start_run(conn, metric_id, trigger=trigger, scheduled_for=scheduled_for)

        return await self._write(work)

    async def finish(
        self, finished: Sequence[FinishedRun], *, claim_for_seconds: float | None = None
    ) -> list[RunRecord]:
        def work(conn: Connection) -> list[RunRecord]:
            return finish_runs(
                self._db,
                conn,
                finished,
                settings=self._settings,
                claim_for_seconds=claim_for_seconds,
            )

        return await self._write(work)

    async def finish_unevaluated(self, item: FinishedRun) -> Execution:
        return await self._write(lambda conn: finish_unevaluated(conn, item))

    def groups(self, run: StartedRun) -> bool:
        # Every transaction queues for the one writer thread: fewer is always cheaper.
        return True

    async def next_due_at(self) -> datetime | None:
        return await next_due_in(self._db)

    async def close(self) -> None:
        # The connection belongs to the writer thread: closed there, after its last work.
        await asyncio.get_running_loop().run_in_executor(self._thread, self._held.close)
        self._thread.shutdown(wait=True)
