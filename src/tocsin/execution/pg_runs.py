"""The run store on PostgreSQL: psycopg's native async driver on the event loop.

A worker's hot path costs less this way than through SQLAlchemy in a worker thread: no
thread hop and no SQLAlchemy execution machinery, one autocommitted statement to start a
run and, when its metric has no alert, one to finish it (``run_statements.py``). A run
with alerts is finished and evaluated in one transaction in a worker thread, where the
evaluator's SQLAlchemy statements run. Without a native pool (a one-off run from the
API or the CLI), every step takes the thread path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import datetime

from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.native import NativePool
from tocsin.execution.due import claim_due, next_due_in
from tocsin.execution.run_statements import (
    finish_runs,
    finish_unevaluated,
    finish_unless_alerts,
    finish_unless_alerts_native,
    start_claimed,
    start_run,
    start_run_native,
)
from tocsin.execution.run_store import FinishedRun, RunRecord, StartedRun
from tocsin.metrics.model import Execution, Trigger, observe
from tocsin.settings import Settings


class PostgresRunStore:
    def __init__(self, db: Database, settings: Settings, native: NativePool | None = None) -> None:
        self._db = db
        self._settings = settings
        self._native = native

    def held(self) -> AbstractAsyncContextManager[None]:
        """Every native statement of the current task, inside this block, on one
        connection (``NativePool.held``): a run's statements take one once."""
        return self._native.held() if self._native is not None else nullcontext()

    async def claim_and_start(self, *, limit: int) -> list[StartedRun]:
        def work() -> list[StartedRun]:
            with self._db.begin() as conn:
                return start_claimed(conn, claim_due(conn, now=utcnow(), limit=limit))

        return await asyncio.to_thread(work)

    async def start(
        self, metric_id: uuid.UUID, *, trigger: Trigger, scheduled_for: datetime | None
    ) -> StartedRun:
        if self._native is not None:
            return await start_run_native(
                self._native, metric_id, trigger=trigger, scheduled_for=scheduled_for
            )

        def work() -> StartedRun:
            with self._db.autocommit() as conn:
                return start_run(conn, metric_id, trigger=trigger, scheduled_for=scheduled_for)

        return await asyncio.to_thread(work)

    async def finish(
        self, finished: Sequence[FinishedRun], *, claim_for_seconds: float | None = None
    ) -> list[RunRecord]:
        records: list[RunRecord | None] = [None] * len(finished)
        with_alerts: list[int] = []
        for i, item in enumerate(finished):
            if item.run.has_alerts:
                with_alerts.append(i)
            else:
                records[i] = await self._finish_without_alerts(item, claim_for_seconds)
        if with_alerts:

            def work() -> list[RunRecord]:
                with self._db.begin() as conn:
                    return finish_runs(
                        self._db,
                        conn,
                        [finished[i] for i in with_alerts],
                        settings=self._settings,
                        claim_for_seconds=claim_for_seconds,
                    )

            for i, record in zip(with_alerts, await asyncio.to_thread(work), strict=True):
                records[i] = record
        return [r for r in records if r is not None]

    async def _finish_without_alerts(
        self, item: FinishedRun, claim_for_seconds: float | None
    ) -> RunRecord:
        if self._native is not None:
            execution = await finish_unless_alerts_native(self._native, item)
        else:

            def work() -> Execution:
                with self._db.autocommit() as conn:
                    return finish_unless_alerts(conn, item)

            execution = await asyncio.to_thread(work)
        metric = item.run.metric
        if execution.evaluated_at is not None:
            return RunRecord(
                execution, EvaluationResult(execution.id, observe(execution, metric.selector))
            )
        # An alert was enabled since the run started: evaluated on its own.
        evaluation = await asyncio.to_thread(
            evaluate_alerts,
            self._db,
            metric.id,
            execution,
            settings=self._settings,
            metric=metric,
            claim_for_seconds=claim_for_seconds,
        )
        return RunRecord(execution, evaluation)

    async def finish_unevaluated(self, item: FinishedRun) -> Execution:
        def work() -> Execution:
            with self._db.begin() as conn:
                return finish_unevaluated(conn, item)

        return await asyncio.to_thread(work)

    def groups(self, run: StartedRun) -> bool:
        # A run without alerts finishes with one autocommitted statement on its own
        # job's connection, concurrently with the others; in a group they would queue
        # behind one another (a worker's no-alert burst fell from ~200 to ~70 runs/s).
        return run.has_alerts

    async def next_due_at(self) -> datetime | None:
        return await next_due_in(self._db)

    async def close(self) -> None:
        return None
