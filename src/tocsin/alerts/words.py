"""An alert's condition in plain words ("Open Issues drops by more than 20% from the
previous run"), as the UI and the planner say it.

The short form with symbols (``> 5``, ``change < -20%``), which reasons, notifications
and the CLI show, is the decision core's ``describe_condition``.
"""

from __future__ import annotations

from tocsin.alerts.decision import OP_SYMBOLS, AlertRule
from tocsin.alerts.recovery import recovery_words
from tocsin.durations import format_duration
from tocsin.numbers import format_decimal

_LEVEL = {
    "gt": "is above",
    "gte": "is at least",
    "lt": "is below",
    "lte": "is at most",
    "eq": "equals",
    "ne": "is not",
}


def condition_words(metric_name: str, rule: AlertRule) -> str:
    amount = format_decimal(abs(rule.threshold_value))
    if rule.condition_type == "threshold":
        return f"{metric_name} {_LEVEL[rule.comparison_op]} {format_decimal(rule.threshold_value)}"
    unit = "%" if rule.change_mode == "percent" else ""
    back = "the previous run" if rule.lookback == 1 else f"{rule.lookback} runs before"
    falling = rule.threshold_value < 0 or (
        rule.threshold_value == 0 and rule.comparison_op[0] == "l"
    )
    rising = rule.threshold_value > 0 or (
        rule.threshold_value == 0 and rule.comparison_op[0] == "g"
    )
    op = rule.comparison_op
    if falling and op in ("lt", "lte"):
        how = f"by more than {amount}{unit}" if op == "lt" else f"by {amount}{unit} or more"
        return f"{metric_name} drops {how} from {back}"
    if rising and op in ("gt", "gte"):
        how = f"by more than {amount}{unit}" if op == "gt" else f"by {amount}{unit} or more"
        return f"{metric_name} rises {how} from {back}"
    threshold = format_decimal(rule.threshold_value)
    return f"{metric_name}'s change from {back} is {OP_SYMBOLS[op]} {threshold}{unit}"


_NO_DATA = {"alerting": "no data fires it", "ok": "no data counts as OK",
            "keep_last": "no data keeps the last state"}  # fmt: skip
_ERROR = {"alerting": "a failing source fires it", "ok": "a failing source counts as OK",
          "keep_last": "a failing source keeps the last state"}  # fmt: skip


def rule_notes(rule: AlertRule) -> list[str]:
    """What the rule does beyond its condition, where it differs from the defaults:
    recovery, keeping a firing, reminders, broken data ("no data counts as OK")."""
    recovery = recovery_words(rule)
    notes = [recovery] if recovery else []
    if rule.keep_firing_seconds:
        notes.append(f"keeps firing {format_duration(rule.keep_firing_seconds)} after it clears")
    every = rule.repeat_every_seconds
    if every:
        notes.append(f"reminders every {format_duration(every)}")
    elif every == 0 and rule.cooldown_seconds > 0:
        notes.append("reminders as often as the cooldown lets")
    notes += [w for w in (_NO_DATA.get(rule.on_no_data), _ERROR.get(rule.on_error)) if w]
    if not rule.failure_notice:
        notes.append("no notice when the data breaks")
    if rule.drop_resolve_when_muted:
        notes.append("resolves dropped while muted")
    return notes
