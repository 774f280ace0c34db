"""A series absent from a run (docs/alerts.md, Series). Part of the decision core.

An absent series is recorded as ``no_data`` ("series not in this run"), like any other
gap: its episode, if notified, continues through it. A triggered series whose firing was
notified and that stays absent for ``resolve_missing_after`` runs resolves, with a
resolve notification that says the series is no longer reported: a service that was
removed, or stopped failing so hard it stopped appearing, must not stay "firing" forever.
"""

from __future__ import annotations

from datetime import datetime

from tocsin.alerts.decision import NOT_SENT, AlertRule, AlertStatus, Decision, in_episode
from tocsin.alerts.timing import resolve_while_muted, utc

NOT_IN_RUN = "series not in this run"


def absent(rule: AlertRule, status: AlertStatus, at: datetime) -> Decision:
    """Decide a run the series was absent from."""
    at = utc(at)
    runs = status.missing_runs + 1
    if status.last_evaluated_at is not None and at < utc(status.last_evaluated_at):
        return _decision(status, status, None, None, f"{NOT_IN_RUN}; older run", applied=False)
    notified = status.episode_notified and in_episode(status)
    needed = max(rule.resolve_missing_after, 1)
    if notified and runs >= needed:
        new = status._replace(
            state="ok", consecutive_breaches=0, last_evaluated_at=at, episode_notified=False,
            missing_runs=runs,
        )  # fmt: skip
        text = f"{NOT_IN_RUN} ({_runs(runs)}): no longer reported, resolved"
        if not rule.notify_on_resolve:
            return _decision(status, new, None, None, f"{text} (notify_on_resolve off)")
        dropped, note = resolve_while_muted(rule, at)
        if dropped is not None:
            return _decision(status, new, None, dropped, f"{text}{NOT_SENT}{dropped}")
        return _decision(status, new, "resolve", None, f"{text}{note}")
    new = status._replace(
        state="no_data", consecutive_breaches=0, last_evaluated_at=at,
        episode_notified=notified, missing_runs=runs,
    )  # fmt: skip
    text = NOT_IN_RUN if runs == 1 else f"{NOT_IN_RUN} ({_runs(runs)})"
    if notified:
        text += f"; resolves after {_runs(needed)} absent"
    return _decision(status, new, None, None, text)


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _decision(
    old: AlertStatus,
    new: AlertStatus,
    notify: str | None,
    suppressed: str | None,
    reason: str,
    *,
    applied: bool = True,
) -> Decision:
    return Decision(
        triggered=False,
        state_from=old.state,
        state_to=new.state,
        notify="resolve" if notify == "resolve" else None,
        suppressed=suppressed,
        reason=reason,
        value=None,
        baseline_value=None,
        change=None,
        applied=applied,
        new_status=new,
        previous_status=old,
    )
