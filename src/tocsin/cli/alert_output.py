"""How ``alert create/update/show`` print an alert for a person."""

from __future__ import annotations

from tocsin.alerts.decision import describe_condition
from tocsin.alerts.model import Alert
from tocsin.alerts.recovery import recovery_words
from tocsin.alerts.rules import rule_of
from tocsin.cli.words import actions_words
from tocsin.durations import format_duration


def reminder_words(seconds: int | None) -> str:
    """How often a triggered series is reminded of: ``every 4h``, ``never``."""
    if seconds is None:
        return "never"
    return "every run" if seconds == 0 else f"every {format_duration(seconds)}"


def _holding(a: Alert) -> str:
    """``   for: 5m   keep firing: 10m`` where set."""
    parts = [f"for: {format_duration(a.for_seconds)}"] if a.for_seconds else []
    if a.keep_firing_seconds:
        parts.append(f"keep firing: {format_duration(a.keep_firing_seconds)}")
    return "".join(f"   {p}" for p in parts)


def condition_text(a: Alert) -> str:
    rule = rule_of(a)
    recovery = recovery_words(rule)
    return describe_condition(rule) + (f" ({recovery})" if recovery else "")


def human_alert(a: Alert) -> str:
    pub = a.public()
    muted = a.muted_until.isoformat() if a.muted_until else "-"
    return "\n".join(
        [
            f"{a.name}  [{a.state}]  ({a.id})",
            f"  metric:     {a.metric_id}",
            f"  condition:  {condition_text(a)}",
            f"  actions:    {actions_words(a.action_config)}",
            f"  cooldown:   {format_duration(a.cooldown_seconds)}   reminders: "
            f"{reminder_words(a.repeat_every_seconds)}{_holding(a)}   pending: "
            f"{a.pending_evaluations}   resolve: {a.notify_on_resolve}"
            + ("   resolves while muted: dropped" if a.drop_resolve_when_muted else ""),
            f"  no data:    {a.on_no_data}   error: {a.on_error}   failure notices: "
            + ("on" if a.failure_notice else "off"),
            f"  enabled:    {a.enabled}   muted until: {muted}",
            f"  last value: {pub['last_value']}   last fired: "
            f"{a.last_triggered_at.isoformat() if a.last_triggered_at else '-'}",
        ]
    )
