"""Plain-words descriptions of a drafted alert: its name and its one-line summary."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from tocsin.ai.series_plan import watch_words
from tocsin.alerts.decision import AlertRule, describe_condition
from tocsin.alerts.model import AlertDefinition
from tocsin.alerts.recovery import recovery_words
from tocsin.alerts.rules import rule_of
from tocsin.alerts.words import condition_words
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
    if recovery := recovery_words(rule):
        parts.append(recovery)
    parts += _handling_words(draft)
    return "; ".join(parts)


_NO_DATA = {"alerting": "no data fires it", "ok": "no data counts as OK",
            "keep_last": "no data keeps the last state"}  # fmt: skip
_ERROR = {"alerting": "a failing source fires it", "ok": "a failing source counts as OK",
          "keep_last": "a failing source keeps the last state"}  # fmt: skip


def _handling_words(draft: AlertDefinition) -> list[str]:
    """What the draft does when data breaks, where it differs from the defaults."""
    words = [w for w in (_NO_DATA.get(draft.on_no_data), _ERROR.get(draft.on_error)) if w]
    if not draft.failure_notice:
        words.append("no notice when the data breaks")
    if draft.drop_resolve_when_muted:
        words.append("resolves dropped while muted")
    if draft.keep_firing_seconds:
        words.append(f"keeps firing {format_duration(draft.keep_firing_seconds)} after it clears")
    every = draft.repeat_every_seconds
    if every:
        words.append(f"reminders every {format_duration(every)}")
    elif every == 0 and draft.cooldown_seconds > 0:
        words.append("reminders as often as the cooldown lets")
    return words


def number_text(value: Decimal | None) -> str:
    return "-" if value is None else format_decimal(value)
