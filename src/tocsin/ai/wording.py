"""Plain-words descriptions of a drafted alert: its name and its one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tocsin.ai.series_plan import watch_words
from tocsin.alerts.decision import AlertRule, describe_condition
from tocsin.alerts.model import AlertDefinition
from tocsin.alerts.rules import rule_of
from tocsin.alerts.words import condition_words, rule_notes
from tocsin.durations import format_duration
from tocsin.numbers import format_decimal

_EVERY = {60: "a minute", 3600: "an hour", 86400: "a day", 604800: "a week"}


def default_name(metric_name: str, rule: AlertRule) -> str:
    return f"{metric_name} {describe_condition(rule)}"


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


def cooldown_words(seconds: int, repeat: int | None = 0) -> str:
    """The cooldown in words; without one, what the reminders then make of it."""
    if seconds <= 0:
        return "every time it holds (no cooldown)" if repeat == 0 else "no cooldown"
    if seconds in _EVERY:
        return f"at most once {_EVERY[seconds]}"
    return f"at most once every {format_duration(seconds)}"


def summary(metric_name: str, draft: AlertDefinition, series_by: Sequence[str] = ()) -> str:
    """ "Fires when Open Issues is above 5; Slack #ops; at most once an hour"; for a
    metric with series (``series_by``, its labels) "..., for each service except batch"."""
    rule = rule_of(draft)
    when = f"Fires when {condition_words(metric_name, rule)}"
    if draft.pending_evaluations > 1:
        when += f" for {draft.pending_evaluations} runs in a row"
    if draft.for_seconds:
        when += f" for {format_duration(draft.for_seconds)}"
    watched = watch_words(series_by, draft.series_filter)
    if watched:
        when += f", {watched}"
    cfg = draft.action_config
    actions = [cfg] if isinstance(cfg, dict) else cfg
    parts = [when, ", ".join(destination_words(a) for a in actions)]
    every = cooldown_words(draft.cooldown_seconds, draft.repeat_every_seconds)
    parts.append(f"{every} per {' and '.join(series_by)}" if series_by else every)
    if not draft.notify_on_resolve:
        parts.append("no notice when it resolves")
    parts += rule_notes(rule)
    return "; ".join(parts)


def number_text(value: Decimal | None) -> str:
    return "-" if value is None else format_decimal(value)
