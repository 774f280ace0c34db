"""The pure alert decision core (docs/alerts.md; docs/design.md).

No I/O and no clock: every time comes in with the :class:`Observation` (the execution's
completion time), so a backtest over recorded history reproduces live evaluation exactly.

Rules beyond the brief's wording, decided here:

* **Episodes.** An episode starts when the alert enters ``triggered`` and ends when a
  readable, non-breaching value takes it back to ``ok``. ``AlertStatus.episode_notified``
  records whether the user was told of the current episode. A resolve is sent only when it
  was (and ``notify_on_resolve``), so nobody is told "resolved" about a firing they never saw.
* **Due notifications.** A trigger notification is *due* when the alert enters
  ``triggered``, when it stays triggered but the episode was not yet notified (the firing
  was muted or inside the cooldown: once that lifts, the next breach tells the user), or
  when it stays triggered, was notified, and ``repeat_every_seconds`` has passed since
  ``last_triggered_at`` (a reminder; ``None``: never, 0: every breaching evaluation).
  A due notification is sent unless muted or inside the cooldown; then
  ``Decision.suppressed`` says why. An alert that stays triggered with no reminder due
  has nothing due, so ``suppressed`` stays ``None`` (no history noise).
* **Cooldown** (:func:`trigger_wait`): at most one trigger notification per
  ``cooldown_seconds`` since the last one, reminders included (a reminder waits the
  longer of the two).
* **Handling** (``on_no_data``, ``on_error``): an unreadable value is a breach
  (``alerting``), a clear value (``ok``), changes nothing but the evaluation time
  (``keep_last``), or, by default, puts the series in ``no_data``/``error``. The reason
  says which rule applied ("no data: treated as alerting (...)").
* **no_data / error** leave ``last_triggered_at`` alone and keep ``episode_notified``: if
  the alert was triggered and notified before the gap, the episode continues through it.
  The next readable value that breaches returns straight to ``triggered`` (no new pending
  run) and notifies only if a repeat reminder is due; the next readable value that does
  not breach resolves it (with a resolve notification). Without a notified episode,
  no_data/error behave like ``ok``. While in them ``consecutive_breaches`` counts the
  unreadable runs in a row (error and no_data alike: one spell of a broken source).
* **Failure notices.** A spell of ``pending_evaluations`` unreadable runs sends one
  notice of kind ``no_data``/``error`` (the kind of the run that made it due), unless
  ``failure_notice`` is off, muted, or a failure notice went within the cooldown
  (``last_failure_notice_at``: its own clock, so a broken source never holds back a
  breach). ``failure_notified`` records that the spell was told; the first readable value
  after it sends ``recovered``, or, when that value notifies anyway (a trigger, a resolve),
  says so in that notification's reason: one notification per evaluation. A recovery is
  held by a mute as a resolve is.
* **Mute** (``muted_until`` after the observation time): state changes as usual, no
  trigger is sent, ``last_triggered_at`` is untouched. A resolve due while muted is sent
  (the user was told of the firing; they must hear it is over) unless the rule says
  ``drop_resolve_when_muted``. When the mute ends on a triggered episode that was never
  notified, the next breaching evaluation sends it ("still triggered, not yet notified").
* **Out of order**: an observation older than ``status.last_evaluated_at`` gives
  ``applied=False`` and the unchanged status; equal times are in order. Its ``suppressed``
  is "older execution" only when the observation would have notified had it been newest.
* What the condition says of a reading (and of a zero baseline) is ``condition.py``'s;
  when a triggered series resolves (recovery conditions) ``recovery.py``'s; how long a
  breach must hold and a firing outlasts it (``--for``, ``--keep-firing-for``)
  ``holding.py``'s.
* Naive datetimes (some database drivers return them) are read as UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Literal, NamedTuple

# Re-exported: the vocabulary and the condition's words are imported from here.
from tocsin.alerts.condition import OP_SYMBOLS as OP_SYMBOLS
from tocsin.alerts.condition import Assessment, assess
from tocsin.alerts.condition import ChangeMode as ChangeMode
from tocsin.alerts.condition import ComparisonOp as ComparisonOp
from tocsin.alerts.condition import ConditionType as ConditionType
from tocsin.alerts.condition import compare as compare
from tocsin.alerts.condition import describe_condition as describe_condition
from tocsin.alerts.holding import held_for, kept_firing
from tocsin.alerts.recovery import RecoverFrom, has_recovery_rule, recovered
from tocsin.alerts.timing import (
    cooldown_allows,
    cooldown_block,
    muted_reason,
    next_allowed,
    resolve_while_muted,
    utc,
)
from tocsin.metrics.extract import Extracted

# The one declaration of Tocsin's operators, conditions and states (models, the API's
# schemas and the UI import these).
State = Literal["ok", "pending", "triggered", "no_data", "error"]
NotifyKind = Literal["trigger", "resolve", "no_data", "error", "recovered"]
# What an unreadable value means for an alert (Grafana's "no data" and "error" handling).
NoDataHandling = Literal["no_data", "alerting", "ok", "keep_last"]
ErrorHandling = Literal["error", "alerting", "ok", "keep_last"]

# Every reason whose notification was withheld (mute, cooldown) carries this, then why.
NOT_SENT = "; not sent: "


# The core's values are NamedTuples: immutable like frozen dataclasses, but built several
# times faster, and every evaluation of every alert builds five of them.
class AlertRule(NamedTuple):
    condition_type: ConditionType
    comparison_op: ComparisonOp
    threshold_value: Decimal
    change_mode: ChangeMode = "percent"
    lookback: int = 1
    cooldown_seconds: int = 3600  # 0 = no limit
    pending_evaluations: int = 1
    notify_on_resolve: bool = True
    muted_until: datetime | None = None
    resolve_missing_after: int = 2  # runs a notified, triggered series may be absent
    # A resolve due while muted is sent unless this says to drop it: whoever was told it
    # broke must hear it is fixed.
    drop_resolve_when_muted: bool = False
    repeat_every_seconds: int | None = None  # reminders while triggered; None: never
    on_no_data: NoDataHandling = "no_data"
    on_error: ErrorHandling = "error"
    failure_notice: bool = True  # a spell of no_data/error sends a notice
    # When a triggered series resolves (alerts/recovery.py); None: when it no longer breaches.
    recovery_op: ComparisonOp | None = None
    recovery_threshold: Decimal | None = None
    recover_from: RecoverFrom = "run"
    # Durations on completion times (alerts/holding.py): held this long before firing,
    # and firing this long after the condition stops holding.
    for_seconds: int = 0
    keep_firing_seconds: int = 0


class AlertStatus(NamedTuple):
    """What is stored on the alert row between evaluations."""

    state: State = "ok"
    consecutive_breaches: int = 0
    last_triggered_at: datetime | None = None  # last time a trigger notification was sent
    last_evaluated_at: datetime | None = None  # completion time of the newest applied execution
    episode_notified: bool = False  # the current triggered episode's firing was notified
    missing_runs: int = 0  # completed runs in a row the series was absent from
    failure_notified: bool = False  # the current no_data/error spell's notice was sent
    last_failure_notice_at: datetime | None = None  # the failure notices' cooldown clock
    # The baseline of the episode's first breach: "the value before the episode began".
    episode_baseline: Decimal | None = None
    breaching_since: datetime | None = None  # the first breach of the current run of them
    cleared_since: datetime | None = None  # triggered, kept firing since it stopped holding


class Observation(NamedTuple):
    at: datetime  # the execution's completion time; every time decision uses it
    extracted: Extracted
    baseline: Extracted | None = None  # relative_change: value `lookback` runs back


class Decision(NamedTuple):
    triggered: bool  # the condition held on this value
    state_from: State
    state_to: State
    notify: NotifyKind | None
    suppressed: str | None  # why a due trigger/resolve was not sent
    reason: str  # always non-empty, human-readable
    value: Decimal | None
    baseline_value: Decimal | None
    change: Decimal | None
    applied: bool  # False: older than status.last_evaluated_at, status unchanged
    new_status: AlertStatus
    previous_status: AlertStatus  # the status this decision was computed from


def evaluate(rule: AlertRule, status: AlertStatus, obs: Observation) -> Decision:
    """Decide one observation against the stored status (rules: module docstring)."""
    assessment = assess(rule, obs.extracted, obs.baseline)
    at = utc(obs.at)
    if status.last_evaluated_at is not None and at < utc(status.last_evaluated_at):
        return _out_of_order(rule, status, obs, assessment)
    if assessment.outcome in ("no_data", "error"):
        handling = rule.on_no_data if assessment.outcome == "no_data" else rule.on_error
        if handling in ("no_data", "error") or not assessment.current_failed:
            return _unreadable(rule, status, at, assessment)
        return _handled(rule, status, at, assessment, handling)
    if assessment.outcome == "breach":
        decision = _breach(rule, status, at, assessment)
    else:
        decision = _clear(rule, status, at, assessment)
    return _recovered(rule, decision, at) if status.failure_notified else decision


def suppress(decision: Decision, reason: str) -> Decision:
    """The same decision with its notification withheld, e.g. when the store's cooldown
    claim lost a race: the status keeps the previous notification bookkeeping."""
    if decision.notify is None:
        return decision
    new_status, previous = decision.new_status, decision.previous_status
    if decision.notify == "trigger":
        new_status = new_status._replace(
            last_triggered_at=previous.last_triggered_at,
            episode_notified=previous.episode_notified,
        )
    elif decision.notify in ("no_data", "error"):
        new_status = new_status._replace(
            failure_notified=False, last_failure_notice_at=previous.last_failure_notice_at
        )
    text = f"{decision.reason}{NOT_SENT}{reason}"
    return decision._replace(notify=None, suppressed=reason, reason=text, new_status=new_status)


def backtest(
    rule: AlertRule, observations: Sequence[Observation], status: AlertStatus | None = None
) -> list[Decision]:
    """Live evaluation folded over a recorded history, decision by decision."""
    decisions: list[Decision] = []
    for obs in observations:
        current = decisions[-1].new_status if decisions else status or AlertStatus()
        decisions.append(evaluate(rule, current, obs))
    return decisions


def trigger_wait(rule: AlertRule, status: AlertStatus) -> int:
    """How long after the last trigger notification one decided on ``status`` may go:
    a reminder the longer of ``repeat_every_seconds`` and the cooldown, any other the
    cooldown. The store's claim uses it too (``batch.claim_cutoff``)."""
    if in_episode(status) and status.episode_notified:
        return max(rule.repeat_every_seconds or 0, rule.cooldown_seconds)
    return rule.cooldown_seconds


def in_episode(status: AlertStatus) -> bool:
    """Whether the alert is inside a triggered episode (possibly across a no_data gap)."""
    gap = status.state in ("no_data", "error")
    return status.state == "triggered" or (gap and status.episode_notified)


def _breach(rule: AlertRule, status: AlertStatus, at: datetime, a: Assessment) -> Decision:
    breaches = (status.consecutive_breaches if status.state in ("pending", "triggered") else 0) + 1
    needed = max(rule.pending_evaluations, 1)
    continuing = in_episode(status)
    # The episode starts at its first breach (pending or not); its baseline stays.
    start = status.episode_baseline if breaches > 1 or continuing else a.baseline_value
    since = status.breaching_since if breaches > 1 and status.breaching_since else at
    waiting = None if continuing else held_for(rule, since, at)
    if not continuing and (breaches < needed or waiting):
        new = AlertStatus(
            "pending", breaches, status.last_triggered_at, at, status.episode_notified,
            0, False, status.last_failure_notice_at, start, since,
        )  # fmt: skip
        count = f"{breaches}/{needed}" if needed > 1 else ""
        text = "; ".join(t for t in (count, waiting) if t)
        return _decision(status, new, a, None, None, f"{a.text}; pending {text}")

    # Built directly rather than with _replace: this runs once per alert per evaluation,
    # and _replace() costs several times a plain constructor.
    base = AlertStatus(
        "triggered", breaches, status.last_triggered_at, at,
        continuing and status.episode_notified, 0, False, status.last_failure_notice_at, start,
        since,
    )  # fmt: skip
    last = status.last_triggered_at
    wait = trigger_wait(rule, status)
    if not continuing:
        due, label = True, "triggered"
    elif not status.episode_notified:
        due, label = True, "still triggered, not yet notified"
    else:
        repeat = rule.repeat_every_seconds
        due = repeat is not None and cooldown_allows(wait, last, at)
        label = "still triggered: reminder" if due else "still triggered"
        if status.state != "triggered":
            label = f"triggered again after {status.state}" + (": reminder" if due else "")
        if not due:
            # When the next reminder may go, not when the last one "was sent": a reason
            # is written before (and whether or not) any delivery reaches anyone.
            what = "cooldown" if wait == rule.cooldown_seconds else "repeat every"
            after = "" if repeat is None or last is None else next_allowed(wait, last, at, what)
            note = f"; next reminder {after}" if after else ""
            return _decision(status, base, a, None, None, f"{a.text}; {label}{note}")

    blocked = muted_reason(rule, at) or cooldown_block(wait, last, at)
    if blocked is not None:
        return _decision(status, base, a, None, blocked, f"{a.text}; {label}{NOT_SENT}{blocked}")
    sent = AlertStatus(
        "triggered", breaches, at, at, True, 0, False, status.last_failure_notice_at, start, since
    )
    label = label.replace("not yet notified", "sending the held-back notification")
    return _decision(status, sent, a, "trigger", None, f"{a.text}; {label}")


def _clear(rule: AlertRule, status: AlertStatus, at: datetime, a: Assessment) -> Decision:
    new = AlertStatus(
        "ok", 0, status.last_triggered_at, at, False, 0, False, status.last_failure_notice_at,
    )  # fmt: skip
    # An unreadable value treated as ok (on_no_data/on_error ok) is clear as it is.
    if a.value is not None and in_episode(status) and has_recovery_rule(rule):
        over, words = recovered(rule, a, status.episode_baseline)
        if not over:
            # Between the thresholds, or still below the episode's start: the episode
            # goes on (a readable value ends any failure spell).
            kept = status._replace(
                state="triggered", last_evaluated_at=at, missing_runs=0, failure_notified=False
            )
            return _decision(status, kept, a, None, None, f"{a.text}; {words}")
        a = a._replace(text=f"{a.text}; {words}")
    if a.value is not None and status.state == "triggered":
        firing = kept_firing(rule, status.cleared_since, at)
        if firing is not None:
            still = status._replace(
                last_evaluated_at=at, cleared_since=status.cleared_since or at,
                missing_runs=0, failure_notified=False,
            )  # fmt: skip
            return _decision(status, still, a, None, None, f"{a.text}; {firing}")
    if not in_episode(status):
        note = {"pending": "; pending reset", "no_data": "; back to ok", "error": "; back to ok"}
        return _decision(status, new, a, None, None, a.text + note.get(status.state, ""))
    if not status.episode_notified:
        text = f"{a.text}; resolved (the firing was never notified, so no resolve is sent)"
        return _decision(status, new, a, None, None, text)
    if not rule.notify_on_resolve:
        return _decision(status, new, a, None, None, f"{a.text}; resolved (notify_on_resolve off)")
    dropped, sent_note = resolve_while_muted(rule, at)
    if dropped is not None:
        return _decision(status, new, a, None, dropped, f"{a.text}; resolved{NOT_SENT}{dropped}")
    return _decision(status, new, a, "resolve", None, f"{a.text}; resolved{sent_note}")


def _unreadable(rule: AlertRule, status: AlertStatus, at: datetime, a: Assessment) -> Decision:
    state: State = "no_data" if a.outcome == "no_data" else "error"
    kind: NotifyKind = "no_data" if a.outcome == "no_data" else "error"
    spell = status.state in ("no_data", "error")
    runs = (status.consecutive_breaches if spell else 0) + 1
    # Told of this spell already: only a readable value ends one (an unreadable value
    # treated as alerting or ok does not), and this run's own value read (only its
    # baseline is missing) ends it here.
    told = status.failure_notified and a.current_failed
    # episode_notified survives the gap so a later recovery can still send its resolve.
    new = status._replace(
        state=state,
        consecutive_breaches=runs,
        last_evaluated_at=at,
        episode_notified=status.episode_notified and in_episode(status),
        missing_runs=0,
        failure_notified=told,
    )
    needed = max(rule.pending_evaluations, 1)
    if not a.current_failed:
        d = _decision(status, new, a, None, None, a.text)
        return _recovered(rule, d, at) if status.failure_notified else d
    if not rule.failure_notice or told:
        return _decision(status, new, a, None, None, a.text)
    if runs < needed:
        text = f"{a.text}; failure notice after {needed} runs ({runs}/{needed})"
        return _decision(status, new, a, None, None, text)
    blocked = muted_reason(rule, at) or _failure_cooldown(rule, status, at)
    if blocked is not None:
        return _decision(status, new, a, None, blocked, f"{a.text}{NOT_SENT}{blocked}")
    sent = new._replace(failure_notified=True, last_failure_notice_at=at)
    return _decision(status, sent, a, kind, None, f"{a.text}; failure notice")


def _failure_cooldown(rule: AlertRule, status: AlertStatus, at: datetime) -> str | None:
    """Why the cooldown holds a failure notice back: a flapping source is told once."""
    return cooldown_block(rule.cooldown_seconds, status.last_failure_notice_at, at)


_HANDLED = {"alerting": "treated as alerting", "ok": "treated as ok", "keep_last": "state kept"}


def _handled(
    rule: AlertRule, status: AlertStatus, at: datetime, a: Assessment, handling: str
) -> Decision:
    """An unreadable value under ``on_no_data``/``on_error`` other than its own state."""
    what, setting = ("no data", "on_no_data") if a.outcome == "no_data" else ("error", "on_error")
    text = f"{what}: {_HANDLED[handling]} ({setting} {handling}; {a.text})"
    if handling == "keep_last":
        new = status._replace(last_evaluated_at=at)
        return _decision(status, new, a, None, None, text)
    treated = a._replace(outcome="breach" if handling == "alerting" else "clear", text=text)
    d = (_breach if handling == "alerting" else _clear)(rule, status, at, treated)
    # Still unreadable: a told failure spell is not over, so no recovery yet.
    kept = d.new_status._replace(failure_notified=status.failure_notified)
    return d._replace(new_status=kept)


def _recovered(rule: AlertRule, d: Decision, at: datetime) -> Decision:
    """A readable value after a told failure spell: ``recovered``, unless this value
    notifies anyway, whose reason then says so."""
    was = d.previous_status.state
    if d.notify is not None:
        return d._replace(reason=f"{d.reason} (readable again after {was})")
    text = f"readable again after {was}: {d.reason}"
    dropped, note = resolve_while_muted(rule, at)
    if dropped is not None:
        return d._replace(suppressed=dropped, reason=f"{text}{NOT_SENT}{dropped}")
    # A trigger held back (the reason says why) does not hold back the recovery: the
    # decision's one notification is then that, and nothing of it is suppressed.
    return d._replace(notify="recovered", suppressed=None, reason=text + note)


def _out_of_order(
    rule: AlertRule, status: AlertStatus, obs: Observation, a: Assessment
) -> Decision:
    assert status.last_evaluated_at is not None
    as_newest = evaluate(rule, status._replace(last_evaluated_at=None), obs)
    suppressed = "older execution" if as_newest.notify is not None else None
    last = utc(status.last_evaluated_at).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"{a.text}; older than the last evaluated execution ({last}): recorded, state unchanged"
    decision = _decision(status, status, a, None, suppressed, text)
    return decision._replace(applied=False)


def _decision(
    old: AlertStatus,
    new: AlertStatus,
    a: Assessment,
    notify: NotifyKind | None,
    suppressed: str | None,
    reason: str,
) -> Decision:
    return Decision(
        triggered=a.outcome == "breach",
        state_from=old.state,
        state_to=new.state,
        notify=notify,
        suppressed=suppressed,
        reason=reason or a.outcome,
        value=a.value,
        baseline_value=a.baseline_value,
        change=a.change,
        applied=True,
        new_status=new,
        previous_status=old,
    )
