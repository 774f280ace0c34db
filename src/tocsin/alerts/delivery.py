"""The delivery engine: claim due deliveries, send each through its channel, settle it.

Every action of an alert is its own delivery, sent and retried on its own. Transient
failures (timeouts, connection errors, 5xx, 408, 429) retry with exponential backoff and
jitter, honouring Retry-After, up to ``TOCSIN_DELIVERY_MAX_ATTEMPTS``, then go ``dead``;
permanent failures (other 4xx, refused URLs, bad configs) go to ``failed`` at once.

Each outcome is written within milliseconds of its send ending, not when the batch's
slowest send does, so a worker that dies re-sends only what was still in flight. A
delivery whose worker was lost during its last allowed attempt is ended ``dead`` by the
next claim (``tocsin.alerts.claims``), never sent past the limit.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson

from tocsin.alerts.actions import ActionConfigError, Channel, HttpError, build_channel
from tocsin.alerts.claims import Claim, claim_due
from tocsin.alerts.outbox import Delivery, Outcome, to_notification, write_outcomes
from tocsin.alerts.retry import RetryPolicy, decide_retry
from tocsin.clock import utcnow
from tocsin.crypto.keyring import EncryptionKeyError, SecretUnreadable, keyring_for
from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.settings import Settings
from tocsin.telemetry import record_delivery

logger = logging.getLogger("tocsin.delivery")
# Up to this many outcomes (one UPDATE, about a millisecond on SQLite) are written on the
# event loop when the database is free at once. A worker thread would cost more: while
# sends keep the loop busy, each of its handoffs of the GIL waits for the switch interval.
INLINE_OUTCOMES = 250
# While other sends of the batch are still out, an outcome waits this long for company:
# under load, one UPDATE then covers a few dozen outcomes instead of a few.
GATHER_SECONDS = 0.002


def policy_from(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.delivery_max_attempts,
        base_seconds=settings.delivery_backoff_base_seconds,
        max_seconds=settings.delivery_backoff_max_seconds,
    )


class Deliverer:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        http: HttpClient,
        *,
        concurrency: int = 200,
    ) -> None:
        self.db = db
        self.settings = settings
        self.http = http
        self.policy = policy_from(settings)
        self._slots = asyncio.Semaphore(concurrency)
        self._channels: dict[bytes, Channel[Any]] = {}

    async def deliver_due(self, limit: int = 500) -> list[Outcome]:
        """Claim up to ``limit`` due deliveries and make one attempt at each."""
        return await self._claim_and_send(limit, None)

    async def _claim_and_send(self, limit: int, ids: list[uuid.UUID] | None) -> list[Outcome]:
        batch = await asyncio.to_thread(
            claim_due,
            self.db,
            limit=limit,
            ids=ids,
            lease_seconds=self.settings.delivery_lease_seconds,
            max_attempts=self.policy.max_attempts,
        )
        # Settled by the claim itself; reported like any other outcome of the pass.
        lost = [self._lost(claim, error) for claim, error in batch.lost]
        return lost + await self._send_all(batch.claims)

    def _channel(self, action: dict[str, Any]) -> Channel[Any]:
        # Validating an action config (and decrypting its secrets) costs more than
        # signing and posting it; a batch usually repeats the same few sealed actions.
        key = orjson.dumps(
            action, default=str, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        )
        channel = self._channels.get(key)
        if channel is None:
            if len(self._channels) > 1000:
                self._channels.clear()
            ring = keyring_for(self.db.url)
            channel = build_channel(action, self.settings, self.http, ring=ring)
            self._channels[key] = channel
        return channel

    async def drain(self, *, batch: int = 500, parallel: int = 2) -> int:
        """Deliver until nothing is due. Several claim loops run at once so that the
        database round trips of one batch overlap the sends of another."""

        async def loop() -> int:
            total = 0
            while outcomes := await self.deliver_due(batch):
                total += len(outcomes)
            return total

        return sum(await asyncio.gather(*(loop() for _ in range(parallel))))

    async def deliver_ids(self, ids: list[uuid.UUID]) -> list[Outcome]:
        """The first attempt at particular deliveries (``tocsin metric run`` waits for it)."""
        if not ids:
            return []
        return await self._claim_and_send(len(ids), ids)

    async def send_claimed(self, claimed: Sequence[Delivery | Claim]) -> list[Outcome]:
        """One attempt at deliveries this process already holds the claim of."""
        return await self._send_all(claimed)

    async def _send_all(self, claimed: Sequence[Delivery | Claim]) -> list[Outcome]:
        if not claimed:
            return []
        writer = OutcomeWriter(self.db, expected=len(claimed))
        try:
            return list(await asyncio.gather(*(self._send_and_settle(d, writer) for d in claimed)))
        finally:
            # Also on cancellation: what finished before it is written, not sent again.
            await writer.close()

    async def _send_and_settle(self, delivery: Delivery | Claim, writer: OutcomeWriter) -> Outcome:
        outcome = await self._send(delivery)
        writer.add(outcome)
        status = "retry" if outcome.status == "pending" else outcome.status
        record_delivery(str(delivery.action.get("type")), status, outcome.duration_ms / 1000)
        return outcome

    async def _send(self, delivery: Delivery | Claim) -> Outcome:
        async with self._slots:
            started = time.perf_counter()
            try:
                channel = self._channel(delivery.action)
                result = await channel.send(to_notification(delivery))
            except (ActionConfigError, SecretUnreadable) as exc:
                return self._failure(delivery, started, str(exc), None, False, None)
            except EncryptionKeyError as exc:
                # This worker's configuration, not the delivery: another attempt may work.
                return self._failure(delivery, started, str(exc), None, True, None)
            except HttpError as exc:
                return self._failure(
                    delivery, started, exc.message, exc.status, exc.transient, exc.retry_after
                )
            except Exception as exc:  # noqa: BLE001 - recorded on the row and logged
                logger.exception("delivery %s: unexpected error", delivery.id)
                return self._failure(
                    delivery, started, f"unexpected error: {type(exc).__name__}", None, True, None
                )
            return Outcome(
                delivery_id=delivery.id,
                attempts=delivery.attempts,
                status="sent",
                next_attempt_at=None,
                response_status=result.status_code,
                error=None,
                duration_ms=_ms(started),
                sent_at=utcnow(),
            )

    def _lost(self, claim: Claim, error: str) -> Outcome:
        logger.warning("delivery %s (%s): %s", claim.id, claim.action.get("type"), error)
        # The lost attempt took at least the lease it outlived.
        lease = self.settings.delivery_lease_seconds
        record_delivery(str(claim.action.get("type")), "dead", lease)
        return Outcome(
            delivery_id=claim.id,
            attempts=claim.attempts,
            status="dead",
            next_attempt_at=None,
            response_status=None,
            error=error,
            duration_ms=0,
            sent_at=None,
        )

    def _failure(
        self,
        delivery: Delivery | Claim,
        started: float,
        error: str,
        status: int | None,
        transient: bool,
        retry_after: float | None,
    ) -> Outcome:
        decision = decide_retry(
            self.policy,
            attempts=delivery.attempts,
            transient=transient,
            retry_after=retry_after,
            now=utcnow(),
        )
        logger.warning(
            "delivery %s (%s, attempt %d) failed: %s; %s",
            delivery.id,
            delivery.action.get("type"),
            delivery.attempts,
            error,
            decision.note,
        )
        return Outcome(
            delivery_id=delivery.id,
            attempts=delivery.attempts,
            status=decision.status,
            next_attempt_at=decision.next_attempt_at,
            response_status=status,
            error=f"{error} ({decision.note})",
            duration_ms=_ms(started),
            sent_at=None,
        )


class OutcomeWriter:
    """Writes outcomes as their sends finish, so that a crash re-sends only what was
    still in flight. Whatever finished while the previous write ran, or within
    ``GATHER_SECONDS`` of the first, goes into the next write (one UPDATE); the last
    outcome of the batch is written at once."""

    def __init__(self, db: Database, *, expected: int) -> None:
        self._db = db
        self._unsettled = expected  # outcomes not yet taken for a write
        self._queued: list[Outcome] = []
        self._more = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run())

    def add(self, outcome: Outcome) -> None:
        self._queued.append(outcome)
        self._more.set()

    async def close(self) -> None:
        """Wait until every outcome added is written (a failed write raises here)."""
        self._closing = True
        self._more.set()
        await self._task

    async def _run(self) -> None:
        while True:
            if not self._queued:
                if self._closing:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            if not self._closing and len(self._queued) < self._unsettled:
                await asyncio.sleep(GATHER_SECONDS)
            batch, self._queued = self._queued, []
            self._unsettled -= len(batch)
            await self._db.write(
                partial(write_outcomes, outcomes=batch), inline=len(batch) <= INLINE_OUTCOMES
            )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
