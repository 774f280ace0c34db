"""When a triggered series resolves (issue 18 item 2): a recovery condition (hysteresis)
and recovery measured from the value before the episode began. Reference sequences
written from Datadog's recovery thresholds, and the 110 -> 70 -> 72 drop an outsider
saw called "resolved"; then properties over any history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given

from tests.core.test_decision_properties import T0, history, live, monotone_steps, rules, thorough
from tocsin.alerts.decision import AlertRule, Decision, Observation, backtest, compare
from tocsin.metrics.extract import Extracted, extract_value


def runs(rule: AlertRule, *readings: tuple[float, float | None]) -> list[Decision]:
    """Decisions over (value, baseline) readings a minute apart."""
    observations = [
        Observation(
            T0 + timedelta(minutes=i),
            extract_value(value),
            None if base is None else extract_value(base),
        )
        for i, (value, base) in enumerate(readings)
    ]
    return backtest(rule, observations)


def states(decisions: list[Decision]) -> list[tuple[str, str | None]]:
    return [(d.state_to, d.notify) for d in decisions]


def test_datadog_recovery_threshold_keeps_it_triggered_between_the_thresholds() -> None:
    # Datadog: critical > 90, critical recovery < 80 (the monitor recovers only below it)
    rule = AlertRule(
        "threshold", "gt", Decimal(90), cooldown_seconds=0, recovery_op="lt",
        recovery_threshold=Decimal(80),
    )  # fmt: skip
    decisions = runs(rule, *((v, None) for v in (95, 85, 79, 85, 91)))
    assert states(decisions) == [
        ("triggered", "trigger"),
        ("triggered", None),
        ("ok", "resolve"),
        ("ok", None),
        ("triggered", "trigger"),
    ]
    assert (
        decisions[1].reason == "85 <= 90: condition not met; not recovered: 85, recovers when < 80"
    )
    assert decisions[2].reason.startswith(
        "79 <= 90: condition not met; recovered: 79 < 80; resolved"
    )


def test_a_drop_is_not_resolved_by_a_small_rise_when_measured_from_the_episode() -> None:
    drop = AlertRule("relative_change", "lt", Decimal(-20), cooldown_seconds=0)
    readings = ((110, None), (70, 110), (72, 70), (100, 72))
    # Run over run (the default), 72 after 70 reads as +2.9%: "resolved"
    assert states(runs(drop, *readings))[1:3] == [("triggered", "trigger"), ("ok", "resolve")]
    # From the episode's start, 72 is still 34.5% below 110; 100 is -9.1%: recovered
    episode = drop._replace(recover_from="episode")
    decisions = runs(episode, *readings)
    assert states(decisions)[1:] == [
        ("triggered", "trigger"),
        ("triggered", None),
        ("ok", "resolve"),
    ]
    assert "not recovered: change -34.5455% from 110, before the episode, still < -20%" in (
        decisions[2].reason
    )
    assert "recovered: change -9.0909% from 110, before the episode, no longer < -20%" in (
        decisions[3].reason
    )


def test_the_episode_starts_at_its_first_pending_breach() -> None:
    rule = AlertRule(
        "relative_change", "lt", Decimal(-20), pending_evaluations=2, recover_from="episode"
    )
    # 100 -> 70 (pending, from 100) -> 50 (triggered; -28.6% from 70) -> 75: -25% from 100
    decisions = runs(rule, (100, None), (70, 100), (50, 70), (75, 50))
    assert [d.state_to for d in decisions] == ["no_data", "pending", "triggered", "triggered"]
    assert decisions[2].new_status.episode_baseline == Decimal(100)


def test_a_recovery_condition_after_a_gap_still_holds_the_episode() -> None:
    rule = AlertRule(
        "threshold", "gt", Decimal(10), recovery_op="lt", recovery_threshold=Decimal(4)
    )
    broken = Observation(T0 + timedelta(minutes=1), Extracted("error", None, "execution failed"))
    first = backtest(rule, [Observation(T0, extract_value(11)), broken])
    after = backtest(
        rule, [Observation(T0 + timedelta(minutes=2), extract_value(6))], first[-1].new_status
    )
    assert (after[0].state_to, after[0].notify) == ("triggered", "recovered")
    assert "not recovered: 6, recovers when < 4" in after[0].reason


@thorough
@given(rules, monotone_steps)
def test_with_a_recovery_condition_a_readable_resolve_is_a_value_that_meets_it(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    hysteresis = rule._replace(condition_type="threshold")
    for d in live(hysteresis, history(steps, hysteresis)):
        ends = d.previous_status.state == "triggered" and d.state_to == "ok" and d.value is not None
        if ends and not d.triggered and rule.recovery_op and rule.recovery_threshold is not None:
            assert compare(d.value, rule.recovery_op, rule.recovery_threshold)
