"""When a notification may go: the cooldown and the mute, with the words that say why
one is held back. Part of the decision core (``decision.py``), pure like it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from tocsin.durations import format_duration, rounded_duration


class Timed(Protocol):
    """What of an alert rule the timing reads (``decision.AlertRule`` has it)."""

    @property
    def cooldown_seconds(self) -> int: ...

    @property
    def muted_until(self) -> datetime | None: ...


class MuteRule(Timed, Protocol):
    @property
    def drop_resolve_when_muted(self) -> bool: ...


# Stored times have microsecond precision: "<= at - 1 µs" is "< at".
_TICK = timedelta(microseconds=1)


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def cooldown_cutoff(cooldown_seconds: int, at: datetime) -> datetime:
    """The claim a trigger at ``at`` makes on the stored alert: it may be sent only if
    ``last_triggered_at`` is NULL or not after this (the store's conditional UPDATE
    carries it, so two evaluations never both notify inside one cooldown)."""
    # With no cooldown, still at most one trigger per moment: two evaluations of one
    # instant (a race, or a re-run) send once.
    return at - (_TICK if cooldown_seconds == 0 else timedelta(seconds=cooldown_seconds))


def cooldown_allows(seconds: int, last: datetime | None, at: datetime) -> bool:
    """Whether a notification may go at ``at``, ``seconds`` after the ``last`` one. With a
    wait, exactly when the claim on ``cooldown_cutoff`` holds; without one, always (a
    backtest shows every breach; live, ``batch.decide`` also applies the once-per-moment
    claim)."""
    if last is None or seconds <= 0:
        return True
    return utc(last) <= cooldown_cutoff(seconds, utc(at))


def muted_reason(rule: Timed, at: datetime) -> str | None:
    """``muted until 14:00 UTC`` while the rule is muted at ``at``."""
    if rule.muted_until is None or utc(rule.muted_until) <= at:
        return None
    until = utc(rule.muted_until)
    return until.strftime(
        "muted until %H:%M UTC" if until.date() == at.date() else "muted until %Y-%m-%d %H:%M UTC"
    )


def cooldown_block(seconds: int, last: datetime | None, at: datetime) -> str | None:
    """Why a wait of ``seconds`` (the cooldown) holds a notification back at ``at``."""
    if cooldown_allows(seconds, last, at):
        return None
    assert last is not None
    return f"cooldown: next notification {next_allowed(seconds, last, at)}"


def next_allowed(seconds: int, last: datetime, at: datetime, what: str = "cooldown") -> str:
    """``in 59 min (cooldown 1h)``: when the wait that began at ``last`` lets one go."""
    left = int((utc(last) + timedelta(seconds=seconds) - utc(at)).total_seconds())
    return f"in {rounded_duration(max(left, 1))} ({what} {format_duration(seconds)})"


def resolve_while_muted(rule: MuteRule, at: datetime) -> tuple[str | None, str]:
    """A due resolve under a mute: why it is dropped (``drop_resolve_when_muted``), or
    the note saying it was sent anyway."""
    muted = muted_reason(rule, at)
    if muted is None:
        return None, ""
    if rule.drop_resolve_when_muted:
        return f"{muted} (resolves dropped while muted)", ""
    return None, f" (sent while {muted}: resolves get through a mute)"
