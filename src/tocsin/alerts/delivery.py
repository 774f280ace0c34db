"""The delivery engine: claim due deliveries, send each through its channel, settle it.

Every action of an alert is its own delivery, sent and retried on its own. Transient
failures (timeouts, connection errors, 5xx, 408, 429) retry with exponential backoff and
jitter, honouring Retry-After, up to ``TOCSIN_DELIVERY_MAX_ATTEMPTS``, then go ``dead``;
permanent failures (other 4xx, refused URLs, bad configs) go to ``failed`` at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from tocsin.alerts.actions import ActionConfigError, Channel, HttpError, build_channel
from tocsin.alerts.outbox import (
    Claim,
    Delivery,
    Outcome,
    claim_due,
    to_notification,
    write_outcomes,
)
from tocsin.alerts.retry import RetryPolicy, decide_retry
from tocsin.clock import utcnow
from tocsin.crypto.keyring import EncryptionKeyError, SecretUnreadable, keyring_for
from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.settings import Settings
from tocsin.telemetry import record_delivery

logger = logging.getLogger("tocsin.delivery")
# Up to this many outcomes (one UPDATE) are short enough to write without a worker thread.
INLINE_OUTCOMES = 50


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
        claimed = await asyncio.to_thread(
            claim_due, self.db, limit=limit, lease_seconds=self.settings.delivery_lease_seconds
        )
        return await self._send_all(claimed)

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
        claimed = await asyncio.to_thread(
            claim_due,
            self.db,
            limit=len(ids),
            ids=ids,
            lease_seconds=self.settings.delivery_lease_seconds,
        )
        return await self._send_all(claimed)

    async def send_claimed(self, claimed: Sequence[Delivery | Claim]) -> list[Outcome]:
        """One attempt at deliveries this process already holds the claim of."""
        return await self._send_all(claimed)

    async def _send_all(self, claimed: Sequence[Delivery | Claim]) -> list[Outcome]:
        if not claimed:
            return []
        outcomes = list(await asyncio.gather(*(self._send(d) for d in claimed)))
        for delivery, outcome in zip(claimed, outcomes, strict=True):
            status = "retry" if outcome.status == "pending" else outcome.status
            record_delivery(str(delivery.action.get("type")), status, outcome.duration_ms / 1000)
        # A few rows are written on the event loop when the database is free at once.
        await self.db.write(
            lambda conn: write_outcomes(conn, outcomes), inline=len(outcomes) <= INLINE_OUTCOMES
        )
        return outcomes

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


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
