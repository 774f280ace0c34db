"""Durations (issue 18 item 3): ``--for`` and ``--keep-firing-for`` on run completion
times, with reference sequences written from Prometheus's alerting-rule docs ("the
alert fires after the expression has been true for the duration"; with keep_firing_for
"the alert keeps firing for that long after the expression stops being true"), then
properties over any history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given

from tests.core.test_decision_properties import history, live, monotone_steps, rules, thorough
from tests.core.test_recovery import runs, states
from tocsin.alerts.decision import AlertRule, in_episode
from tocsin.metrics.extract import Extracted

GT5 = AlertRule("threshold", "gt", Decimal(5), cooldown_seconds=0)


def test_prometheus_for_fires_once_the_condition_held_for_the_duration() -> None:
    # for: 5m, evaluated every minute; true from minute 0 to 6
    rule = GT5._replace(for_seconds=300)
    decisions = runs(rule, *((9, None) for _ in range(7)))
    assert [s for s, _ in states(decisions)] == ["pending"] * 5 + ["triggered"] * 2
    assert decisions[0].reason == "9 > 5; pending held 0 s of 5m"
    assert decisions[3].reason == "9 > 5; pending held 3 min of 5m"
    assert decisions[5].notify == "trigger"  # minute 5: held exactly 5m


def test_prometheus_for_starts_again_after_a_false_evaluation() -> None:
    rule = GT5._replace(for_seconds=180)
    values = (9, 9, 1, 9, 9, 9, 9)
    decisions = runs(rule, *((v, None) for v in values))
    assert [s for s, _ in states(decisions)] == [
        "pending", "pending", "ok", "pending", "pending", "pending", "triggered",
    ]  # fmt: skip


def test_for_and_pending_runs_must_both_be_met() -> None:
    rule = GT5._replace(for_seconds=60, pending_evaluations=4)
    decisions = runs(rule, *((9, None) for _ in range(5)))
    assert [s for s, _ in states(decisions)] == ["pending"] * 3 + ["triggered"] * 2
    assert decisions[1].reason == "9 > 5; pending 2/4"


def test_prometheus_keep_firing_for_holds_the_firing_after_it_clears() -> None:
    # keep_firing_for: 3m; true at 0-1, false from minute 2
    rule = GT5._replace(keep_firing_seconds=180)
    decisions = runs(rule, *((v, None) for v in (9, 9, 1, 1, 1, 1, 1)))
    assert states(decisions) == [
        ("triggered", "trigger"),
        ("triggered", None),
        ("triggered", None),
        ("triggered", None),
        ("triggered", None),
        ("ok", "resolve"),  # minute 5: 3m after it stopped holding at minute 2
        ("ok", None),
    ]
    assert decisions[2].reason == (
        "1 <= 5: condition not met; kept firing (keep_firing_for 3m, 3 min to go)"
    )


def test_a_breach_while_kept_firing_carries_the_firing_on() -> None:
    rule = GT5._replace(keep_firing_seconds=120)
    decisions = runs(rule, *((v, None) for v in (9, 1, 9, 1, 1, 1)))
    assert [s for s, _ in states(decisions)] == ["triggered"] * 5 + ["ok"]
    assert [n for _, n in states(decisions)].count("trigger") == 1


@thorough
@given(rules, monotone_steps)
def test_for_never_fires_before_the_condition_held_that_long(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    held = rule._replace(for_seconds=rule.for_seconds or 300)
    since = None  # the first breach of the current run of breaches, tracked apart
    for d in live(held, history(steps, held)):
        if not d.applied or "state kept (" in d.reason:
            continue  # keep_last: as if the last state held on
        at = d.new_status.last_evaluated_at
        since = (since or at) if d.triggered else None
        if d.triggered and d.state_to == "triggered" and not in_episode(d.previous_status):
            assert since is not None and at is not None
            assert at - since >= timedelta(seconds=held.for_seconds)
