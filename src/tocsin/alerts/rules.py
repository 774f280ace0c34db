"""An alert's rule as the decision core takes it, from a stored alert, a draft or a raw
row.

Apart from the evaluator (which reads the database), so that what only describes or
previews an alert (the UI, the planner, a test notification) needs no store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from tocsin.alerts import decision as core
from tocsin.alerts.model import Alert, AlertFields


def rule_of(alert: Alert | AlertFields | Row[Any]) -> core.AlertRule:
    """The decision rule of a stored alert, a draft, or a raw row."""
    return core.AlertRule(
        condition_type=alert.condition_type,
        comparison_op=alert.comparison_op,
        threshold_value=alert.threshold_value,
        change_mode=alert.change_mode,
        lookback=alert.lookback,
        cooldown_seconds=alert.cooldown_seconds,
        pending_evaluations=alert.pending_evaluations,
        notify_on_resolve=alert.notify_on_resolve,
        muted_until=alert.muted_until,
        resolve_missing_after=getattr(alert, "resolve_missing_after", 2),
        drop_resolve_when_muted=getattr(alert, "drop_resolve_when_muted", False),
        on_no_data=getattr(alert, "on_no_data", "no_data"),
        on_error=getattr(alert, "on_error", "error"),
        failure_notice=getattr(alert, "failure_notice", True),
        repeat_every_seconds=getattr(alert, "repeat_every_seconds", None),
        recovery_op=getattr(alert, "recovery_op", None),
        recovery_threshold=getattr(alert, "recovery_threshold", None),
        recover_from=getattr(alert, "recover_from", "run"),
        for_seconds=getattr(alert, "for_seconds", 0),
        keep_firing_seconds=getattr(alert, "keep_firing_seconds", 0),
    )
