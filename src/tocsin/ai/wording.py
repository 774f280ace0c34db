"""Plain-words descriptions of a drafted alert: its name and its one-line summary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tocsin.alerts.decision import OP_SYMBOLS, AlertRule, describe_condition
from tocsin.alerts.model import AlertDefinition
from tocsin.alerts.rules import rule_of
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
_EVERY = {60: "a minute", 3600: "an hour", 86400: "a day", 604800: "a week"}


def default_name(metric_name: str, rule: AlertRule) -> str:
    return f"{metric_name} {describe_condition(rule)}"


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


def destination_words(action: dict[str, Any]) -> str:
    kind = action.get("type")
    if kind == "slack":
        channel = action.get("channelId")
        return f"Slack {channel}" if channel else "Slack (incoming webhook)"
    if kind == "webhook":
        return f"webhook to {urlsplit(str(action.get('url', ''))).hostname or 'a URL'}"
    if kind == "email":
        return "email " + ", ".join(action.get("to", []))
    if kind == "pagerduty":
        return "PagerDuty"
    return "log only" if kind == "log" else str(kind)


def cooldown_words(seconds: int) -> str:
    if seconds <= 0:
        return "every time it holds (no cooldown)"
    if seconds in _EVERY:
        return f"at most once {_EVERY[seconds]}"
    return f"at most once every {format_duration(seconds)}"


def summary(metric_name: str, draft: AlertDefinition) -> str:
    """ "Fires when Open Issues is above 5; Slack #ops; at most once an hour"."""
    rule = rule_of(draft)
    when = f"Fires when {condition_words(metric_name, rule)}"
    if draft.pending_evaluations > 1:
        when += f" for {draft.pending_evaluations} runs in a row"
    cfg = draft.action_config
    actions = [cfg] if isinstance(cfg, dict) else cfg
    parts = [when, ", ".join(destination_words(a) for a in actions)]
    parts.append(cooldown_words(draft.cooldown_seconds))
    if not draft.notify_on_resolve:
        parts.append("no notice when it resolves")
    return "; ".join(parts)


def number_text(value: Decimal | None) -> str:
    return "-" if value is None else format_decimal(value)
