"""When data breaks (docs/alerts.md): what ``on_no_data`` / ``on_error`` make of an
unreadable value, and failure notices: one per spell under the cooldown, ``recovered``
only after one was sent. Examples first, then properties over any history."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from tests.core.test_decision_properties import T0, history, live, monotone_steps, rules, thorough
from tocsin.alerts.decision import (
    AlertRule,
    AlertStatus,
    Decision,
    Observation,
    backtest,
    evaluate,
)
from tocsin.metrics.extract import Extracted

GT5 = AlertRule("threshold", "gt", Decimal(5), cooldown_seconds=600)
BROKEN = Extracted("error", None, "execution failed: HTTP 500 from http://shop.test/stats")
EMPTY = Extracted("no_data", None, "the query returned no rows")


def value(n: int) -> Extracted:
    return Extracted("value", Decimal(n), f"value {n}")


def runs(rule: AlertRule, *values: Extracted, every: int = 60) -> list[Decision]:
    observations = [Observation(T0 + timedelta(seconds=i * every), v) for i, v in enumerate(values)]
    return backtest(rule, observations)


def kinds(decisions: list[Decision]) -> list[str | None]:
    return [d.notify for d in decisions]


# Examples


def test_a_broken_source_is_told_once_then_its_recovery() -> None:
    # Given an alert with the defaults, when its source fails three times and recovers
    decisions = runs(GT5, value(3), BROKEN, BROKEN, BROKEN, value(4))
    # Then one error notice with the source's own words, and one recovered
    assert kinds(decisions) == [None, "error", None, None, "recovered"]
    assert decisions[1].reason == f"{BROKEN.reason}; failure notice"
    assert [d.state_to for d in decisions] == ["ok", "error", "error", "error", "ok"]
    assert decisions[4].reason == (
        "readable again after error: 4 <= 5: condition not met; back to ok"
    )


def test_the_notice_waits_for_pending_evaluations_runs() -> None:
    rule = GT5._replace(pending_evaluations=3)
    decisions = runs(rule, EMPTY, EMPTY, EMPTY, EMPTY)
    assert kinds(decisions) == [None, None, "no_data", None]
    assert decisions[0].reason == "the query returned no rows; failure notice after 3 runs (1/3)"
    assert decisions[2].state_to == "no_data"


def test_a_spell_too_short_for_a_notice_recovers_silently() -> None:
    rule = GT5._replace(pending_evaluations=3)
    assert kinds(runs(rule, BROKEN, BROKEN, value(1))) == [None, None, None]


def test_a_flapping_source_is_told_once_per_cooldown() -> None:
    # Given a 10 min cooldown, when the source breaks every other minute for 20 minutes
    flapping = [BROKEN if i % 2 else value(1) for i in range(20)]
    decisions = runs(GT5, *flapping)
    sent = [i for i, d in enumerate(decisions) if d.notify == "error"]
    # Then the next notice waits for the cooldown; each told spell says it recovered
    assert sent == [1, 11]
    assert "not sent: cooldown: next notification in" in decisions[3].reason
    recovered = [i for i, d in enumerate(decisions) if d.notify == "recovered"]
    assert recovered == [2, 12]


def test_a_failure_does_not_hold_back_a_breach() -> None:
    # A failure notice has its own cooldown clock: the breach after it notifies.
    decisions = runs(GT5, BROKEN, value(9))
    assert kinds(decisions) == ["error", "trigger"]
    assert decisions[1].reason == "9 > 5; triggered (readable again after error)"
    assert decisions[1].new_status.failure_notified is False


def test_no_failure_notice_turns_them_off() -> None:
    rule = GT5._replace(failure_notice=False)
    decisions = runs(rule, BROKEN, BROKEN, value(1))
    assert kinds(decisions) == [None, None, None]
    assert decisions[0].state_to == "error"


def test_muted_failures_are_held_and_told_when_the_mute_ends() -> None:
    rule = GT5._replace(muted_until=T0 + timedelta(seconds=90))
    decisions = runs(rule, BROKEN, BROKEN, BROKEN)
    assert kinds(decisions) == [None, None, "error"]
    assert decisions[0].suppressed == "muted until 12:01 UTC"


def test_a_recovery_gets_through_a_mute_unless_resolves_are_dropped() -> None:
    muted_later = GT5._replace(muted_until=T0 + timedelta(hours=1))
    told = runs(GT5, BROKEN)[0].new_status
    at = T0 + timedelta(minutes=5)
    sent = evaluate(muted_later, told, Observation(at, value(1)))
    assert sent.notify == "recovered"
    assert "resolves get through a mute" in sent.reason
    dropping = muted_later._replace(drop_resolve_when_muted=True)
    dropped = evaluate(dropping, told, Observation(at, value(1)))
    assert dropped.notify is None and dropped.suppressed is not None
    assert dropped.new_status.failure_notified is False


def test_no_baseline_yet_is_a_warm_up_not_a_failure() -> None:
    change = AlertRule("relative_change", "lt", Decimal(-20), on_no_data="alerting")
    (decision,) = runs(change, value(100))
    assert decision.notify is None and decision.state_to == "no_data"


def test_handling_choices_say_which_rule_applied() -> None:
    alerting = runs(GT5._replace(on_no_data="alerting"), EMPTY)[0]
    assert (alerting.state_to, alerting.notify) == ("triggered", "trigger")
    assert alerting.reason == (
        "no data: treated as alerting (on_no_data alerting; the query returned no rows); triggered"
    )
    ok = runs(GT5._replace(on_error="ok"), value(9), BROKEN)[1]
    assert (ok.state_to, ok.notify) == ("ok", "resolve")
    assert ok.reason.startswith("error: treated as ok (on_error ok; execution failed: HTTP 500")
    kept = runs(GT5._replace(on_error="keep_last"), value(9), BROKEN)[1]
    assert (kept.state_to, kept.notify) == ("triggered", None)
    assert kept.reason.startswith("error: state kept (on_error keep_last; ")


# Properties over any history

UNREADABLE_KINDS = ("no_data", "error")


def _spells(decisions: list[Decision]) -> list[list[Decision]]:
    """The decisions grouped into spells: runs in a row left in no_data/error by an
    unreadable value (a recovery into a warm-up without a baseline ends one)."""
    spells: list[list[Decision]] = []
    inside = False
    for d in decisions:
        if not d.applied:
            continue
        if d.state_to in UNREADABLE_KINDS and d.notify != "recovered":
            if not inside:
                spells.append([])
            spells[-1].append(d)
            inside = True
        else:
            inside = False
    return spells


@thorough
@given(rules, monotone_steps)
def test_every_handling_choice_does_what_it_says(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    observations = history(steps, rule)
    status = AlertStatus()
    for obs in observations:
        d = evaluate(rule, status, obs)
        current = obs.extracted
        failed = current.status != "value" and (
            rule.condition_type == "threshold" or obs.baseline is not None
        )
        if failed and d.applied:
            handling = rule.on_no_data if current.status == "no_data" else rule.on_error
            if handling == "alerting":
                assert d.triggered and d.state_to in ("pending", "triggered")
            elif handling == "ok":
                assert not d.triggered and d.state_to == "ok"
            elif handling == "keep_last":
                assert d.new_status == status._replace(last_evaluated_at=obs.at)
            else:
                assert d.state_to == current.status and d.notify in (None, current.status)
            if handling != current.status:
                assert d.reason.startswith(("no data: ", "error: "))
        status = d.new_status


@thorough
@given(rules, monotone_steps)
def test_failure_notices_are_once_per_spell_and_under_the_cooldown(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    decisions = live(rule, history(steps, rule))
    for spell in _spells(decisions):
        assert sum(d.notify in UNREADABLE_KINDS for d in spell) <= 1
    times = [d.new_status.last_failure_notice_at for d in decisions if d.notify in UNREADABLE_KINDS]
    for earlier, later in zip(times, times[1:], strict=False):
        assert earlier is not None and later is not None
        assert later - earlier >= timedelta(seconds=rule.cooldown_seconds)
    if not rule.failure_notice:
        assert not any(d.notify in (*UNREADABLE_KINDS, "recovered") for d in decisions)


@thorough
@given(rules, monotone_steps)
def test_recovered_only_after_a_failure_notice_was_sent(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    status = AlertStatus()
    for obs in history(steps, rule):
        d = evaluate(rule, status, obs)
        if d.notify in UNREADABLE_KINDS:
            assert not status.failure_notified and d.new_status.failure_notified
        if d.notify == "recovered":
            assert status.failure_notified and obs.extracted.status == "value"
            assert not d.new_status.failure_notified
        if d.applied and obs.extracted.status == "value":
            # A readable value ends the spell, told or not.
            assert not d.new_status.failure_notified
        status = d.new_status


@given(st.integers(1, 5), st.integers(1, 5))
def test_a_spell_of_n_runs_notifies_exactly_when_n_reaches_pending(n: int, pending: int) -> None:
    rule = GT5._replace(pending_evaluations=pending)
    decisions = runs(rule, *([BROKEN] * n), value(1))
    assert kinds(decisions).count("error") == (1 if n >= pending else 0)
    assert kinds(decisions)[-1] == ("recovered" if n >= pending else None)
