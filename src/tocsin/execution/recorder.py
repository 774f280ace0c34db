"""Recording finished runs, as both runtimes do it: in groups, then sending at once.

Runs that finish while a group is being written make the next group (``GroupCommit``):
one transaction records their executions, alert states, history and outbox rows. The
deliveries a group causes are born claimed by this process (leased for
``delivery_lease_seconds``), which makes their first attempt straight away, without a
claim round trip or a delivery job; should the process die first, the lease runs out and
the outbox's own loop (``deliver_due``) sends them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.outbox import Delivery
from tocsin.db.database import Database
from tocsin.execution.group_commit import GroupCommit
from tocsin.execution.run_store import FinishedRun, RunRecord, RunStore
from tocsin.http import HttpClient
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.runtime")

OnError = Callable[[BaseException], None]


class RunRecorder:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        http: HttpClient,
        runs: RunStore,
        *,
        on_error: OnError | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._http = http
        self._runs = runs
        self._on_error = on_error
        self._commit: GroupCommit[FinishedRun, RunRecord] = GroupCommit(self._write_group)
        self._sending: set[asyncio.Task[Any]] = set()

    async def record(self, finished: FinishedRun) -> RunRecord:
        """Record one finished run with its group; its deliveries are then under way."""
        return await self._commit.submit(finished)

    async def close(self, timeout: float) -> None:
        """Let the first attempts under way finish (up to ``timeout``); what does not
        keeps its lease and is sent again once that runs out."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=timeout)

    async def _write_group(self, finished: Sequence[FinishedRun]) -> list[RunRecord]:
        records = await self._runs.finish(
            finished, claim_for_seconds=self._settings.delivery_lease_seconds
        )
        # Rows this process just built from typed values: constructing skips validating.
        claimed = [
            Delivery.model_construct(**row)
            for stored in records
            if stored.evaluation is not None
            for row in stored.evaluation.outbox
        ]
        if claimed:
            task = asyncio.create_task(self._send(claimed))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return records

    async def _send(self, claimed: list[Delivery]) -> None:
        try:
            await Deliverer(self._db, self._settings, self._http).send_claimed(claimed)
        except Exception as exc:  # noqa: BLE001 - recorded; their leases run out, then retried
            if self._on_error is not None:
                self._on_error(exc)
            else:
                logger.exception("sending %d deliveries failed; retried later", len(claimed))
