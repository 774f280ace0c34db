"""The embedded runtime: one asyncio process that schedules, runs, evaluates, delivers.

It is what ``tocsin serve`` runs on SQLite (and ``tocsin demo``). Every second it claims
the due metrics (a conditional UPDATE on ``next_run_at``) and starts their runs in the
same transaction, runs each source as its own task with bounded concurrency, so a slow
source never holds up the tick, and records the runs that finish together in one
transaction with the evaluation of their alerts (group commit). The deliveries those
cause are born claimed by the runtime, which makes their first attempt at once; a
delivery loop drains the rest of the outbox (retries, and what a crash left). A sweep
finishes what a crash left behind. Every second a silence pass records the ``missing``
runs of metrics that heard nothing for their ``expect_every`` (``execution/silence.py``).
A database error makes a loop back off and retry, never exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.execution.backoff import Backoff
from tocsin.execution.recorder import RunRecorder
from tocsin.execution.run_store import StartedRun
from tocsin.execution.scheduler import execute, run_store_for
from tocsin.execution.tasks import (
    PRUNE_SECONDS,
    SILENCE_SECONDS,
    SWEEP_SECONDS,
    RunOutcome,
    conclude,
    deliver_pending,
    prune_old_rows,
    record_silences,
    sweep,
)
from tocsin.http import HttpClient
from tocsin.settings import Settings
from tocsin.telemetry import record_scheduler_lateness

logger = logging.getLogger("tocsin.runtime")

# The scheduler never claims more often than this, however close the next slots are.
MIN_TICK_SECONDS = 0.05

OnRun = Callable[[RunOutcome], Awaitable[None] | None]


@dataclass
class RuntimeStatus:
    started_at: datetime | None = None
    last_tick_at: datetime | None = None
    runs: int = 0
    in_flight: int = 0
    errors: int = 0
    last_error: str | None = None
    backing_off: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "kind": "embedded",
            "alive": self.started_at is not None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "last_tick_at": self.last_tick_at.isoformat() if self.last_tick_at else None,
            "runs": self.runs,
            "in_flight": self.in_flight,
            "errors": self.errors,
            "last_error": self.last_error,
            "backing_off": self.backing_off,
        }


class EmbeddedRuntime:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        concurrency: int = 50,
        tick_seconds: float = 1.0,
        sweep_seconds: float = SWEEP_SECONDS,
        stop_grace_seconds: float = 10.0,
        on_run: OnRun | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.tick_seconds = tick_seconds
        self.sweep_seconds = sweep_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.on_run = on_run
        self.status = RuntimeStatus()
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliver_now = asyncio.Event()
        self._slot_freed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then finish in-flight runs (or abandon them safely)."""
        self.status.started_at = utcnow()
        self._runs = run_store_for(self.db, self.settings)
        try:
            await self._run_loops(stop)
        finally:
            await self._runs.close()
        self.status.started_at = None

    async def _run_loops(self, stop: asyncio.Event) -> None:
        async with HttpClient(self.settings) as http:
            self._recorder = RunRecorder(
                self.db, self.settings, http, self._runs, on_error=self._record_error
            )
            loops = [
                asyncio.create_task(self._schedule_loop(stop, http)),
                asyncio.create_task(self._delivery_loop(stop, http)),
                asyncio.create_task(
                    self._every(stop, self.sweep_seconds, lambda: sweep(self.db, self.settings))
                ),
                asyncio.create_task(
                    self._every(stop, PRUNE_SECONDS, lambda: prune_old_rows(self.db, self.settings))
                ),
                asyncio.create_task(self._every(stop, SILENCE_SECONDS, self._silences)),
            ]
            await stop.wait()
            schedule, delivery = loops.pop(0), loops.pop(0)
            for task in loops:
                task.cancel()
            # Cancelling a delivery mid-send would leave its claim to time out, and a tick
            # mid-claim would leave runs started that no task runs: let both settle (each
            # loop exits once it sees the stop).
            self._deliver_now.set()
            self._slot_freed.set()
            _, late = await asyncio.wait([schedule, delivery], timeout=self.stop_grace_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*loops, schedule, delivery, return_exceptions=True)
            await self._finish_in_flight()
            await self._recorder.close(self.stop_grace_seconds)
            await self._last_delivery(http)

    async def _last_delivery(self, http: HttpClient) -> None:
        """Send what the finished runs queued; what does not make it stays pending."""
        try:
            await asyncio.wait_for(
                deliver_pending(self.db, self.settings, http), self.stop_grace_seconds
            )
        except TimeoutError:
            logger.warning("stopping with deliveries still pending; they are sent on restart")
        except Exception as exc:  # noqa: BLE001 - recorded; the rows stay pending
            self._record_error(exc)

    async def _finish_in_flight(self) -> None:
        if not self._tasks:
            return
        logger.info("waiting up to %ss for %d runs", self.stop_grace_seconds, len(self._tasks))
        _, pending = await asyncio.wait(self._tasks, timeout=self.stop_grace_seconds)
        for task in pending:
            # Abandoned: its execution stays "running" until the sweep marks it failed,
            # and its metric runs again at its next slot.
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _every(
        self, stop: asyncio.Event, seconds: float, step: Callable[[], Awaitable[Any]]
    ) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                await step()
                backoff.succeeded()
                self.status.backing_off = False
                delay = seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded, logged, retried
                self._record_error(exc)
                self.status.backing_off = True
                delay = backoff.failed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _schedule_loop(self, stop: asyncio.Event, http: HttpClient) -> None:
        """Claim due metrics at least every tick, and sooner when the next slot comes
        before the next tick (so a run starts on time, not up to a tick late); while a
        claim fills every free slot, more may be due, so claim again as soon as a slot
        frees."""
        backoff = Backoff()
        while not stop.is_set():
            try:
                full = await self._tick(http)
                backoff.succeeded()
                self.status.backing_off = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded, logged, retried
                self._record_error(exc)
                self.status.backing_off = True
                full, delay = False, backoff.failed()
            else:
                delay = self.tick_seconds
                if not full:
                    delay = await self._until_next_slot()
            waiter = self._slot_freed.wait() if full else stop.wait()
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, delay)

    async def _until_next_slot(self) -> float:
        upcoming = await self._runs.next_due_at()
        if upcoming is None:
            return self.tick_seconds
        wait = (upcoming - utcnow()).total_seconds()
        return min(self.tick_seconds, max(MIN_TICK_SECONDS, wait))

    async def _tick(self, http: HttpClient) -> bool:
        """Claim and start due runs; True when every free slot was filled."""
        self.status.last_tick_at = utcnow()
        # Claim no more than there are free slots, so claimed work starts at once and
        # what is left stays visibly due in the database.
        free = self._concurrency - len(self._tasks)
        if free <= 0:
            return True
        started = await self._runs.claim_and_start(limit=free)
        for run in started:
            task = asyncio.create_task(self._run(http, run))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
        self.status.in_flight = len(self._tasks)
        return len(started) == free

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self.status.in_flight = len(self._tasks)
        self._slot_freed.set()

    async def _run(self, http: HttpClient, run: StartedRun) -> None:
        async with self._slots:
            try:
                if run.scheduled_for is not None:
                    late = (utcnow() - run.scheduled_for).total_seconds()
                    record_scheduler_lateness(late)
                finished = await execute(self.db, run, settings=self.settings, http=http)
                outcome = await conclude(
                    self.db, self.settings, self._runs, finished, self._recorder.record
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded; the sweep finishes the run
                self._record_error(exc)
                return
            self.status.runs += 1
            await self._evaluated(outcome)

    async def _silences(self) -> None:
        for outcome in await record_silences(self.db, self.settings):
            await self._evaluated(outcome)

    async def _evaluated(self, outcome: RunOutcome) -> None:
        """What follows a run's evaluation (a missing run's too): its deliveries, its report."""
        if outcome.evaluation.delivery_ids and not outcome.evaluation.outbox:
            # Evaluated apart (not born claimed): the delivery loop sends them.
            self._deliver_now.set()
        if self.on_run is not None:
            try:
                result = self.on_run(outcome)
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:  # noqa: BLE001 - a reporting hook must not stop runs
                self._record_error(exc)

    async def _delivery_loop(self, stop: asyncio.Event, http: HttpClient) -> None:
        backoff = Backoff()
        while not stop.is_set():
            try:
                await deliver_pending(self.db, self.settings, http)
                backoff.succeeded()
                delay = self.tick_seconds
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - recorded, logged, retried
                self._record_error(exc)
                delay = backoff.failed()
            if stop.is_set():
                break
            self._deliver_now.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._deliver_now.wait(), delay)

    def _record_error(self, exc: BaseException) -> None:
        self.status.errors += 1
        self.status.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        logger.warning("runtime error, backing off: %s", self.status.last_error)
