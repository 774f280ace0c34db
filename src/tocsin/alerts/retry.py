"""When to try a failed delivery again: a pure strategy returning a decision."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    jitter: float = 0.2  # ± this fraction, so a burst of failures does not retry in lockstep


@dataclass(frozen=True)
class RetryDecision:
    status: Literal["pending", "failed", "dead"]
    next_attempt_at: datetime | None
    note: str


def decide_retry(
    policy: RetryPolicy,
    *,
    attempts: int,
    transient: bool,
    retry_after: float | None,
    now: datetime,
    rng: random.Random | None = None,
) -> RetryDecision:
    """``attempts`` counts the attempt that just failed."""
    if not transient:
        return RetryDecision("failed", None, "permanent failure: not retried")
    if attempts >= policy.max_attempts:
        return RetryDecision("dead", None, f"gave up after {attempts} attempts")
    delay = min(policy.max_seconds, policy.base_seconds * (2 ** (attempts - 1)))
    delay *= 1 + (rng or random).uniform(-policy.jitter, policy.jitter)
    if retry_after is not None:
        # The server said when; never earlier, and a huge value still caps at max.
        delay = max(delay, min(retry_after, policy.max_seconds))
    return RetryDecision(
        "pending",
        now + timedelta(seconds=delay),
        f"retry {attempts + 1}/{policy.max_attempts} in {delay:.0f}s",
    )
