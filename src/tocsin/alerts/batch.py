"""An evaluation batch and the pure step that decides it (docs/design.md).

The evaluator reads an :class:`EvaluationBatch`: a slice of the metric's enabled alerts,
one item per series each watches, with the series' stored status, this run's value of it
(or none: absent) and the values it may be compared with. :func:`decide` turns it into
one decision per item; ``recording.BatchWriter`` writes them. Like the rest of the
decision core: no I/O, no clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from tocsin.alerts.absence import absent
from tocsin.alerts.decision import (
    AlertRule,
    AlertStatus,
    Decision,
    Observation,
    evaluate,
    suppress,
    trigger_wait,
)
from tocsin.alerts.timing import cooldown_cutoff, utc
from tocsin.metrics.extract import Extracted
from tocsin.metrics.series import Labels


class BatchAlert(NamedTuple):
    """One series of one alert as a decision reads it, and what its notification needs."""

    id: uuid.UUID  # the alert's
    name: str
    # The actions as their stored JSON text, decoded only for alerts that notify.
    actions_json: str
    rule: AlertRule
    status: AlertStatus  # the series'
    series_key: str
    labels: Labels
    series_id: uuid.UUID | None  # None: first seen in this run
    current: Extracted | None  # this run's value of the series; None: absent from it
    # The series' values in earlier runs, newest first (shared by the items that can).
    baselines: Sequence[Extracted] = ()
    seen_at: datetime | None = None  # when the series was last in a run


@dataclass(frozen=True, slots=True)
class EvaluationBatch:
    at: datetime  # the execution's completion time
    alerts: Sequence[BatchAlert]


# The stored row's last trigger is past the claim's cutoff: only another evaluation of the
# same moment can have sent it (otherwise the cooldown itself held the trigger back).
RACED = "cooldown: another evaluation notified first"


def decide(batch: EvaluationBatch) -> list[Decision]:
    """One decision per alert of the batch, in its order, each trigger checked against
    the claim the store will make for it (``claim_cutoff``), so every trigger decided
    here is one the store's guarded UPDATE accepts."""
    at = batch.at
    decisions = []
    # Items of one value share its observations (a metric without series: every alert).
    shared: Extracted | None = None
    plain = Observation(at, Extracted("no_data", None, ""))
    deeper: list[Observation] = []
    for alert in batch.alerts:
        rule, current = alert.rule, alert.current
        if current is None:
            decisions.append(absent(rule, alert.status, at))
            continue
        if current is not shared:
            shared, plain, deeper = current, Observation(at, current), []
        obs = plain
        if rule.condition_type == "relative_change" and len(alert.baselines) >= rule.lookback:
            if not deeper or deeper[0].baseline is not alert.baselines[0]:
                deeper = [Observation(at, current, b) for b in alert.baselines]
            obs = deeper[rule.lookback - 1]
        decision = evaluate(rule, alert.status, obs)
        if decision.notify == "trigger":
            last = alert.status.last_triggered_at
            wait = trigger_wait(rule, alert.status)
            if last is not None and utc(last) > cooldown_cutoff(wait, batch.at):
                decision = suppress(decision, RACED)
        decisions.append(decision)
    return decisions


def claim_cutoff(alert: BatchAlert, decision: Decision, at: datetime) -> datetime | None:
    """The cooldown claim a decision makes on its stored alert: a trigger may be written
    only while ``last_triggered_at`` is unset or not after this; nothing else claims."""
    if decision.notify != "trigger":
        return None
    return cooldown_cutoff(trigger_wait(alert.rule, alert.status), at)


# The order of "worst" for an alert's summary of its series.
SERIES_STATE_RANK = {"triggered": 4, "pending": 3, "error": 2, "no_data": 1, "ok": 0}


def summary(statuses: Sequence[AlertStatus]) -> tuple[int, AlertStatus]:
    """What the alert row shows of its series: the worst one's status (triggered >
    pending > error > no_data > ok; the first of equals), with the latest
    ``last_triggered_at`` of any; for one series, exactly its status. With the worst
    one's index."""
    worst = max(range(len(statuses)), key=lambda i: SERIES_STATE_RANK[statuses[i].state])
    times = [s.last_triggered_at for s in statuses if s.last_triggered_at is not None]
    latest = max(times, key=utc) if times else None
    return worst, statuses[worst]._replace(last_triggered_at=latest)
