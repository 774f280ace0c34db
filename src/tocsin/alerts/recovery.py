"""When a triggered series resolves (docs/alerts.md, "Recovery"). Part of the decision
core, pure like it.

By default a series resolves on the first readable value on which its trigger condition
no longer holds. Two rules change that, as Datadog's recovery thresholds and Grafana's
recovery threshold do:

* **A recovery condition** (``recovery_op`` with ``recovery_threshold``, ``--recover-when
  "< 4"``): the series resolves only on a value where it holds. Between the two
  thresholds it stays triggered: hysteresis, so a value hovering at the threshold does
  not fire and resolve on every run.
* **Recovery from the episode** (``recover_from="episode"``, relative change only): the
  change that decides recovery is measured from the value before the episode began, not
  from the previous run. A drop from 110 to 70 is not "resolved" by 72 (+2.9% run over
  run); it is still 34.5% below 110.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from tocsin.alerts.condition import (
    OP_SYMBOLS,
    Assessment,
    ComparisonOp,
    Condition,
    change_between,
    compare,
    shown,
)

RecoverFrom = Literal["run", "episode"]


class RecoveryRule(Condition, Protocol):
    """What of an alert rule recovery reads (``decision.AlertRule`` has it): its
    condition, and the recovery settings."""

    @property
    def recovery_op(self) -> ComparisonOp | None: ...

    @property
    def recovery_threshold(self) -> Decimal | None: ...

    @property
    def recover_from(self) -> RecoverFrom: ...


def has_recovery_rule(rule: RecoveryRule) -> bool:
    """Whether recovery is anything but "the trigger condition no longer holds"."""
    episode = rule.recover_from == "episode" and rule.condition_type == "relative_change"
    return episode or (rule.recovery_op is not None and rule.recovery_threshold is not None)


def recovery_words(rule: RecoveryRule) -> str:
    """``recovers when < 4``, ``recovers when the change from before the episode is no
    longer < -20%``, or "" for the default."""
    if not has_recovery_rule(rule):
        return ""
    unit = "%" if rule.condition_type == "relative_change" and rule.change_mode == "percent" else ""
    episode = rule.recover_from == "episode" and rule.condition_type == "relative_change"
    subject = "the change from before the episode is " if episode else ""
    if rule.recovery_op is not None and rule.recovery_threshold is not None:
        return f"recovers when {subject}{OP_SYMBOLS[rule.recovery_op]} " + (
            f"{shown(rule.recovery_threshold)}{unit}"
        )
    limit = f"{OP_SYMBOLS[rule.comparison_op]} {shown(rule.threshold_value)}{unit}"
    return f"recovers when {subject}no longer {limit}"


def recovered(
    rule: RecoveryRule, a: Assessment, episode_baseline: Decimal | None
) -> tuple[bool, str]:
    """Of a readable value that does not breach, while triggered: whether the series
    resolves on it, and the words saying why (or why not)."""
    assert a.value is not None
    unit = "%" if rule.condition_type == "relative_change" and rule.change_mode == "percent" else ""
    if rule.condition_type == "threshold":
        subject, words = a.value, shown(a.value)
    else:
        episode = rule.recover_from == "episode" and episode_baseline is not None
        base = episode_baseline if episode else a.baseline_value
        assert base is not None
        subject, text = change_between(rule.change_mode, base, a.value)
        words = f"change {text} from {shown(base)}" + (", before the episode" if episode else "")
    op, threshold = rule.recovery_op, rule.recovery_threshold
    if op is not None and threshold is not None:
        limit = f"{OP_SYMBOLS[op]} {shown(threshold)}{unit}"
        if compare(subject, op, threshold):
            return True, f"recovered: {words} {limit}"
        return False, f"not recovered: {words}, recovers when {limit}"
    # No recovery condition: the trigger condition, measured from the episode's start.
    limit = f"{OP_SYMBOLS[rule.comparison_op]} {shown(rule.threshold_value)}{unit}"
    if compare(subject, rule.comparison_op, rule.threshold_value):
        return False, f"not recovered: {words}, still {limit}"
    return True, f"recovered: {words}, no longer {limit}"
