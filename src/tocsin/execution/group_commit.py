"""Group commit: runs that finish while a commit is under way are committed together.

A scheduled run's last step (finish the execution, evaluate its alerts, write the outbox)
costs the embedded runtime less in one transaction for many runs than in one each: the
transaction's own set-up, its commit and the hop to the writer thread are paid once per
group. No run waits for a timer: the first finished run is written at once, and those
that finish meanwhile make the next group (the classic group commit of databases).

Should a group's write fail, each of its items is written alone, so one bad run (or one
alert that cannot be evaluated) costs only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

logger = logging.getLogger("tocsin.runtime")

Item = TypeVar("Item")
Result = TypeVar("Result")

# A bound on one group: a transaction holding SQLite's write lock for thousands of runs
# would keep a push waiting that long.
MAX_GROUP = 200


class GroupCommit(Generic[Item, Result]):
    """``await submit(item)`` returns ``write([item, ...])``'s result for that item."""

    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        max_group: int = MAX_GROUP,
    ) -> None:
        self._write = write
        self._max_group = max_group
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                await self._write_group(group)
                group = []
        finally:
            self._writer = None
            # Cancelled mid-write (the runtime stopping): no submitter waits forever.
            for _, future in group + self._waiting:
                future.cancel()
            self._waiting.clear()

    async def _write_group(self, group: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write([item for item, _ in group])
        except Exception as exc:  # noqa: BLE001 - handed on, or each item written alone
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            logger.exception("writing %d finished runs together failed; one by one", len(group))
            for item, future in group:
                await self._write_alone(item, future)
            return
        for (_, future), result in zip(group, results, strict=True):
            _settle(future, result)

    async def _write_alone(self, item: Item, future: asyncio.Future[Result]) -> None:
        try:
            [result] = await self._write([item])
        except Exception as exc:  # noqa: BLE001 - handed to the run that submitted it
            _settle(future, exc)
            return
        _settle(future, result)


def _settle(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    """Hand ``outcome`` to a submitter that still waits (one cancelled does not)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
