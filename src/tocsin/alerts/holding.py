"""How long a condition has held, and how long a firing outlasts it (docs/alerts.md,
"Durations"). Part of the decision core, pure like it; times are run completion times.

* ``for_seconds`` (``--for 5m``), as Prometheus's ``for``: a series fires only once its
  condition has held on every run since a breach at least that long before (beside
  ``pending_evaluations``, counted in runs: both must be met). Until then it is pending.
* ``keep_firing_seconds`` (``--keep-firing-for 10m``), as Prometheus's
  ``keep_firing_for``: a triggered series whose condition no longer holds stays triggered
  until it has not held for that long; a breach in the meantime carries the firing on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tocsin.alerts.timing import utc
from tocsin.durations import format_duration, rounded_duration


class HoldingRule(Protocol):
    @property
    def for_seconds(self) -> int: ...

    @property
    def keep_firing_seconds(self) -> int: ...


def held_for(rule: HoldingRule, since: datetime, at: datetime) -> str | None:
    """Why a breach held since ``since`` may not fire yet at ``at`` (``None``: it may)."""
    if rule.for_seconds <= 0:
        return None
    held = (utc(at) - utc(since)).total_seconds()
    if held >= rule.for_seconds:
        return None
    return f"held {_ago(held)} of {format_duration(rule.for_seconds)}"


def kept_firing(rule: HoldingRule, cleared_since: datetime | None, at: datetime) -> str | None:
    """Why a triggered series whose condition stopped holding at ``cleared_since`` (this
    run, when ``None``) still fires at ``at`` (``None``: it resolves)."""
    if rule.keep_firing_seconds <= 0:
        return None
    start = at if cleared_since is None else cleared_since
    quiet = (utc(at) - utc(start)).total_seconds()
    if quiet >= rule.keep_firing_seconds:
        return None
    left = rule.keep_firing_seconds - quiet
    return (
        f"kept firing (keep_firing_for {format_duration(rule.keep_firing_seconds)}, "
        f"{_ago(left)} to go)"
    )


def _ago(seconds: float) -> str:
    return "0 s" if seconds < 1 else rounded_duration(int(seconds))
