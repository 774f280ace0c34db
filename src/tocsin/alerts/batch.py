"""An evaluation batch and the pure step that decides it (docs/design.md).

The evaluator reads an :class:`EvaluationBatch` (the execution's value, the baselines it
may be compared with, and a slice of the metric's enabled alerts with their stored
status); :func:`decide` turns it into one decision per alert; ``recording.BatchWriter``
writes them. Like the rest of the decision core: no I/O, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from tocsin.alerts.decision import (
    AlertRule,
    AlertStatus,
    Decision,
    Observation,
    evaluate,
    suppress,
)
from tocsin.alerts.timing import cooldown_cutoff, utc
from tocsin.metrics.extract import Extracted


class BatchAlert(NamedTuple):
    """One alert as a decision reads it, and what its notification needs."""

    id: uuid.UUID
    name: str
    # The actions as their stored JSON text, decoded only for alerts that notify.
    actions_json: str
    rule: AlertRule
    status: AlertStatus


@dataclass(frozen=True, slots=True)
class EvaluationBatch:
    at: datetime  # the execution's completion time
    current: Extracted  # the execution's value
    baselines: Sequence[Extracted]  # the values of earlier executions, newest first
    alerts: Sequence[BatchAlert]


# The stored row's last trigger is past the claim's cutoff: only another evaluation of the
# same moment can have sent it (otherwise the cooldown itself held the trigger back).
RACED = "cooldown: another evaluation notified first"


def decide(batch: EvaluationBatch) -> list[Decision]:
    """One decision per alert of the batch, in its order, each trigger checked against
    the claim the store will make for it (``claim_cutoff``), so every trigger decided
    here is one the store's guarded UPDATE accepts."""
    # One observation per baseline depth, shared by every alert that reads it.
    plain = Observation(at=batch.at, extracted=batch.current)
    deeper = [Observation(batch.at, batch.current, b) for b in batch.baselines]
    decisions = []
    for alert in batch.alerts:
        rule = alert.rule
        obs = plain
        if rule.condition_type == "relative_change" and len(deeper) >= rule.lookback:
            obs = deeper[rule.lookback - 1]
        decision = evaluate(rule, alert.status, obs)
        if decision.notify == "trigger":
            last = alert.status.last_triggered_at
            if last is not None and utc(last) > cooldown_cutoff(rule.cooldown_seconds, batch.at):
                decision = suppress(decision, RACED)
        decisions.append(decision)
    return decisions


def claim_cutoff(alert: BatchAlert, decision: Decision, at: datetime) -> datetime | None:
    """The cooldown claim a decision makes on its stored alert: a trigger may be written
    only while ``last_triggered_at`` is unset or not after this; nothing else claims."""
    if decision.notify != "trigger":
        return None
    return cooldown_cutoff(alert.rule.cooldown_seconds, at)
