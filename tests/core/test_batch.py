"""The pure batch step: ``decide`` over an evaluation batch, given / when / then."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.batch import RACED, BatchAlert, EvaluationBatch, claim_cutoff, decide
from tocsin.alerts.decision import AlertRule, AlertStatus, Observation, evaluate
from tocsin.metrics.extract import Extracted, extract_value

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GT5 = AlertRule("threshold", "gt", Decimal(5))
CHANGE = AlertRule("relative_change", "gt", Decimal(10), lookback=2)


def member(
    rule: AlertRule,
    status: AlertStatus | None = None,
    current: Extracted | None = None,
    baselines: Sequence[Extracted] = (),
) -> BatchAlert:
    return BatchAlert(
        uuid.uuid4(), "a", '[{"type": "log"}]', rule, status or AlertStatus(), "{}", {}, None,
        current, baselines,
    )  # fmt: skip


def test_each_alert_is_decided_as_evaluate_would_alone() -> None:
    # Given two threshold alerts and a change alert two runs back
    six, baselines = extract_value(6), [extract_value(7), extract_value(4)]
    alerts = [
        member(GT5, current=six),
        member(GT5._replace(threshold_value=Decimal(9)), current=six),
        member(CHANGE, current=six, baselines=baselines),
    ]
    batch = EvaluationBatch(T0, alerts)
    # When the batch is decided
    decisions = decide(batch)
    # Then each decision is the alert's own, the change alert against the older baseline
    assert [d.state_to for d in decisions] == ["triggered", "ok", "triggered"]
    alone = evaluate(CHANGE, AlertStatus(), Observation(T0, extract_value(6), baselines[1]))
    assert decisions[2] == alone
    assert decisions[2].baseline_value == Decimal(4)


def test_a_change_alert_without_enough_history_has_no_baseline() -> None:
    batch = EvaluationBatch(
        T0, [member(CHANGE, current=extract_value(6), baselines=[extract_value(7)])]
    )
    (decision,) = decide(batch)
    assert decision.notify is None
    assert decision.baseline_value is None


def test_without_cooldown_a_second_trigger_of_one_moment_is_withheld() -> None:
    # Given an alert without cooldown that another evaluation of this instant notified
    rule = GT5._replace(cooldown_seconds=0)
    status = AlertStatus("ok", 0, T0, T0 - timedelta(minutes=1), False)
    # When a breach of the same instant is decided
    (decision,) = decide(EvaluationBatch(T0, [member(rule, status, extract_value(6))]))
    # Then it does not notify, and says why
    assert decision.notify is None
    assert decision.suppressed == RACED
    assert decision.new_status.last_triggered_at == T0
    # while a breach a moment later does
    later = T0 + timedelta(microseconds=1)
    (again,) = decide(EvaluationBatch(later, [member(rule, status, extract_value(6))]))
    assert again.notify == "trigger"


@given(
    cooldown=st.integers(min_value=0, max_value=7200),
    since=st.integers(min_value=0, max_value=7200),
    value=st.integers(min_value=0, max_value=10),
)
def test_every_trigger_decided_passes_its_claim(cooldown: int, since: int, value: int) -> None:
    # The store's guarded UPDATE accepts every trigger decide() lets through.
    rule = GT5._replace(cooldown_seconds=cooldown)
    last = T0 - timedelta(seconds=since)
    status = AlertStatus("triggered", 1, last, last, True)
    alert = member(rule, status, extract_value(value))
    (decision,) = decide(EvaluationBatch(T0, [alert]))
    cutoff = claim_cutoff(alert, decision, T0)
    if decision.notify == "trigger":
        assert cutoff is not None and last <= cutoff
    else:
        assert cutoff is None
