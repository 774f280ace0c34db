"""The alert decision core, rule by rule (PRODUCT.md §3), given / when / then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tocsin.alerts.decision import (
    AlertRule,
    AlertStatus,
    Decision,
    Observation,
    backtest,
    compare,
    cooldown_allows,
    describe_condition,
    evaluate,
    suppress,
)
from tocsin.metrics.extract import Extracted, extract_value

T0 = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)
GT5 = AlertRule("threshold", "gt", Decimal(5))
# As every alert made before reminders had their own setting: reminded at the cooldown.
REMIND = GT5._replace(repeat_every_seconds=3600)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def obs(minutes: float, value: Any, baseline: Any = None) -> Observation:
    base = None if baseline is None else extract_value(baseline)
    return Observation(at(minutes), extract_value(value), base)


def failed(minutes: float) -> Observation:
    return Observation(at(minutes), Extracted("error", None, "execution failed: timeout"))


def run(
    rule: AlertRule, *observations: Observation, status: AlertStatus | None = None
) -> list[Decision]:
    current = status or AlertStatus()
    decisions = []
    for observation in observations:
        decisions.append(evaluate(rule, current, observation))
        current = decisions[-1].new_status
    return decisions


def notified(decisions: list[Decision]) -> list[str | None]:
    return [d.notify for d in decisions]


def test_seed_6_fires_then_4_resolves() -> None:
    first, second = run(GT5, obs(0, 6), obs(5, 4))
    assert (first.state_from, first.state_to, first.notify) == ("ok", "triggered", "trigger")
    assert first.triggered and first.reason == "6 > 5; triggered"
    assert first.new_status.last_triggered_at == at(0)
    assert (second.state_to, second.notify, second.triggered) == ("ok", "resolve", False)
    assert second.reason.startswith("4 <= 5: condition not met")
    assert second.new_status.last_triggered_at == at(0)  # resolve does not touch it


def test_seed_fresh_alert_with_4_does_not_notify() -> None:
    [decision] = run(GT5, obs(0, 4))
    assert decision.notify is None and decision.suppressed is None
    assert decision.state_to == "ok"
    assert decision.reason == "4 <= 5: condition not met"


def test_seed_6_again_inside_cooldown_is_suppressed() -> None:
    *_, again = run(GT5, obs(0, 6), obs(5, 4), obs(10, 6))
    assert again.state_to == "triggered"
    assert again.notify is None
    assert again.suppressed == "cooldown: next notification in 50 min (cooldown 1h)"
    assert again.new_status.last_triggered_at == at(0)
    assert again.new_status.episode_notified is False


@pytest.mark.parametrize(
    ("op", "value", "held"),
    [
        ("gt", 6, True), ("gt", 5, False), ("gte", 5, True), ("gte", 4, False),
        ("lt", 4, True), ("lt", 5, False), ("lte", 5, True), ("lte", 6, False),
        ("eq", 5, True), ("eq", "5.000", True), ("eq", 6, False),
        ("ne", 6, True), ("ne", "5.0", False),
    ],
)  # fmt: skip
def test_compare(op: Any, value: Any, held: bool) -> None:
    assert compare(Decimal(value), op, Decimal(5)) is held


def test_compare_with_infinities_and_nan_is_sane() -> None:
    inf, ninf = Decimal("Infinity"), Decimal("-Infinity")
    assert compare(inf, "gt", Decimal(10**9)) and not compare(inf, "lt", Decimal(0))
    assert compare(ninf, "lt", Decimal(-(10**9)))
    assert not compare(inf, "eq", Decimal(5)) and compare(inf, "ne", Decimal(5))
    assert compare(inf, "eq", inf) and not compare(inf, "ne", inf)
    assert not compare(Decimal("NaN"), "eq", Decimal(5))
    assert compare(Decimal("NaN"), "ne", Decimal(5))


@pytest.mark.parametrize(
    ("op", "value", "text"),
    [("gt", 4, "4 <= 5"), ("gte", 4, "4 < 5"), ("lt", 6, "6 >= 5"), ("lte", 6, "6 > 5"),
     ("eq", 4, "4 != 5"), ("ne", 5, "5 == 5")],
)  # fmt: skip
def test_threshold_reason_negates_the_operator_when_not_met(op: Any, value: int, text: str) -> None:
    [d] = run(AlertRule("threshold", op, Decimal(5)), obs(0, value))
    assert d.reason == f"{text}: condition not met"


def test_exact_decimal_comparison() -> None:
    [d] = run(AlertRule("threshold", "eq", Decimal("0.3")), obs(0, 0.1 + 0.2))
    assert not d.triggered  # 0.30000000000000004 really is not 0.3
    [d] = run(AlertRule("threshold", "eq", Decimal("0.3")), obs(0, "0.30"))
    assert d.triggered


@pytest.mark.parametrize(
    ("mode", "op", "threshold", "baseline", "value", "change", "held"),
    [
        ("percent", "lt", -20, 8, 6, "-25", True),
        ("percent", "lt", -20, 8, "7.2", "-10", False),
        ("percent", "gt", 0, -10, -5, "50", True),  # divided by |baseline|
        ("percent", "gt", 20, 0, 3, "Infinity", True),
        ("percent", "lt", -20, 0, -3, "-Infinity", True),
        ("percent", "gt", 20, 0, -3, "-Infinity", False),
        ("percent", "eq", 5, 0, 3, "Infinity", False),
        ("percent", "ne", 5, 0, 3, "Infinity", True),
        ("percent", "eq", 0, 0, 0, "0", True),
        ("absolute", "gte", 50, 20, 100, "80", True),
        ("absolute", "gt", 2, 0, 3, "3", True),  # a zero baseline is no special case here
    ],
)  # fmt: skip
def test_relative_change(
    mode: Any, op: Any, threshold: int, baseline: int, value: Any, change: str, held: bool
) -> None:
    rule = AlertRule("relative_change", op, Decimal(threshold), change_mode=mode)
    [d] = run(rule, obs(0, value, baseline=baseline))
    assert d.change == Decimal(change) and d.triggered is held
    assert d.value == Decimal(str(value)) and d.baseline_value == baseline
    assert d.state_to == ("triggered" if held else "ok")


def test_relative_change_reasons() -> None:
    drop = AlertRule("relative_change", "lt", Decimal(-20))
    [d] = run(drop, obs(0, 6, baseline=8))
    assert d.reason == "change -25% < -20% (from 8 to 6); triggered"
    [d] = run(drop, obs(0, "7.2", baseline=8))
    assert d.reason == "change -10% >= -20% (from 8 to 7.2): condition not met"
    [d] = run(AlertRule("relative_change", "gt", Decimal(20)), obs(0, 3, baseline=0))
    assert d.reason == "change +infinity% > 20% (from 0 to 3: infinite change); triggered"
    [d] = run(AlertRule("relative_change", "gt", Decimal(20)), obs(0, 4, baseline=3))
    assert d.reason == "change +33.3333% > 20% (from 3 to 4); triggered"
    absolute = AlertRule("relative_change", "gte", Decimal(50), change_mode="absolute")
    [d] = run(absolute, obs(0, 100, baseline=20))
    assert d.reason == "change +80 >= 50 (absolute, from 20 to 100); triggered"


def test_no_baseline_yet_is_no_data() -> None:
    rule = AlertRule("relative_change", "lt", Decimal(-20), lookback=3)
    [d] = run(rule, obs(0, 6))
    assert d.state_to == "no_data" and d.notify is None and not d.triggered
    assert d.reason == "no baseline yet: needs 3 earlier completed runs"


def test_unreadable_baseline() -> None:
    rule = AlertRule("relative_change", "lt", Decimal(-20))
    [d] = run(rule, Observation(at(0), extract_value(6), extract_value("abc")))
    assert d.state_to == "error" and d.reason == 'baseline: value "abc" is not a number'
    [d] = run(rule, Observation(at(0), extract_value(6), extract_value(None)))
    assert d.state_to == "no_data" and d.reason.startswith("baseline: ")


def test_describe_condition() -> None:
    assert describe_condition(GT5) == "> 5"
    assert describe_condition(AlertRule("threshold", "lte", Decimal("2.50"))) == "<= 2.5"
    assert describe_condition(AlertRule("relative_change", "lt", Decimal(-20))) == "change < -20%"
    absolute = AlertRule("relative_change", "gte", Decimal(50), change_mode="absolute")
    assert describe_condition(absolute) == "change >= 50 (absolute)"
    lookback = AlertRule("relative_change", "gt", Decimal(10), lookback=7)
    assert describe_condition(lookback) == "change > 10% (vs 7 runs back)"


def test_pending_until_enough_consecutive_breaches() -> None:
    rule = GT5._replace(pending_evaluations=3)
    decisions = run(rule, obs(0, 6), obs(1, 7), obs(2, 8))
    assert [d.state_to for d in decisions] == ["pending", "pending", "triggered"]
    assert notified(decisions) == [None, None, "trigger"]
    assert decisions[0].reason == "6 > 5; pending 1/3"
    assert decisions[1].reason == "7 > 5; pending 2/3"
    assert decisions[2].new_status.consecutive_breaches == 3


def test_a_non_breach_or_an_error_resets_pending() -> None:
    rule = GT5._replace(pending_evaluations=2)
    decisions = run(rule, obs(0, 6), obs(1, 4), obs(2, 6), failed(3), obs(4, 6), obs(5, 6))
    states = [d.state_to for d in decisions]
    assert states == ["pending", "ok", "pending", "error", "pending", "triggered"]
    assert decisions[1].reason.endswith("pending reset")
    assert decisions[1].new_status.consecutive_breaches == 0


def test_staying_triggered_inside_cooldown_is_quiet() -> None:
    decisions = run(REMIND, obs(0, 6), obs(10, 7), obs(30, 8))
    assert notified(decisions) == ["trigger", None, None]
    assert [d.suppressed for d in decisions] == [None, None, None]
    assert decisions[1].reason == "7 > 5; still triggered; next reminder in 50 min (cooldown 1h)"


def test_repeat_reminder_once_the_cooldown_has_passed() -> None:
    decisions = run(REMIND, obs(0, 6), obs(59, 7), obs(60, 8), obs(61, 9), obs(120, 9))
    assert notified(decisions) == ["trigger", None, "trigger", None, "trigger"]
    assert decisions[2].reason == "8 > 5; still triggered: reminder"
    assert decisions[2].new_status.last_triggered_at == at(60)


def test_a_new_alert_is_not_reminded_unless_asked() -> None:
    # Given no repeat_every (a new alert's default), staying triggered for a day
    decisions = run(GT5, obs(0, 6), obs(60, 7), obs(1440, 8))
    # Then it was told once, and the reasons promise nothing more
    assert notified(decisions) == ["trigger", None, None]
    assert decisions[2].reason == "8 > 5; still triggered"


def test_repeat_every_sets_the_reminders_and_the_cooldown_still_bounds_them() -> None:
    # Every 4 h with a 10 min cooldown: reminded at 4 h
    four_hours = GT5._replace(cooldown_seconds=600, repeat_every_seconds=4 * 3600)
    decisions = run(four_hours, obs(0, 6), obs(10, 6), obs(239, 6), obs(240, 6))
    assert notified(decisions) == ["trigger", None, None, "trigger"]
    assert decisions[1].reason == "6 > 5; still triggered; next reminder in 3 h (repeat every 4h)"
    # Every 10 min with a 1 h cooldown: the cooldown is the most often anything is sent
    often = GT5._replace(repeat_every_seconds=600)
    decisions = run(often, obs(0, 6), obs(10, 6), obs(60, 6))
    assert notified(decisions) == ["trigger", None, "trigger"]
    assert decisions[1].reason == "6 > 5; still triggered; next reminder in 50 min (cooldown 1h)"


def test_cooldown_zero_notifies_every_breaching_evaluation() -> None:
    rule = GT5._replace(cooldown_seconds=0, repeat_every_seconds=0)
    decisions = run(rule, obs(0, 6), obs(0, 7), obs(1, 8))
    assert notified(decisions) == ["trigger", "trigger", "trigger"]


def test_flapping_inside_cooldown_is_suppressed_and_notified_once_it_lifts() -> None:
    decisions = run(GT5, obs(0, 6), obs(5, 4), obs(10, 6), obs(30, 6), obs(65, 6))
    assert notified(decisions) == ["trigger", "resolve", None, None, "trigger"]
    assert decisions[2].suppressed is not None and decisions[2].suppressed.startswith("cooldown")
    # still held back: the firing is due but the cooldown has not passed
    assert decisions[3].suppressed == "cooldown: next notification in 30 min (cooldown 1h)"
    assert decisions[4].reason == "6 > 5; still triggered, sending the held-back notification"


def test_suppressed_firing_then_recovery_sends_no_resolve() -> None:
    decisions = run(GT5, obs(0, 6), obs(5, 4), obs(10, 6), obs(15, 4))
    assert notified(decisions) == ["trigger", "resolve", None, None]
    assert decisions[3].suppressed is None
    assert "never notified" in decisions[3].reason


def test_cooldown_allows_is_the_stores_predicate() -> None:
    hour = GT5.cooldown_seconds
    assert cooldown_allows(hour, None, at(0))
    assert not cooldown_allows(hour, at(0), at(59.99))
    assert cooldown_allows(hour, at(0), at(60))  # last <= at - cooldown: boundary allowed
    assert cooldown_allows(0, at(0), at(0))
    naive = at(0).replace(tzinfo=None)
    assert cooldown_allows(hour, naive, at(61)) and not cooldown_allows(hour, naive, at(1))


def test_no_resolve_when_notify_on_resolve_is_off() -> None:
    rule = GT5._replace(notify_on_resolve=False)
    decisions = run(rule, obs(0, 6), obs(1, 4))
    assert notified(decisions) == ["trigger", None]
    assert decisions[1].state_to == "ok" and decisions[1].suppressed is None
    assert decisions[1].new_status.episode_notified is False


def test_pending_to_ok_never_resolves() -> None:
    rule = GT5._replace(pending_evaluations=2)
    assert notified(run(rule, obs(0, 6), obs(1, 4))) == [None, None]


def test_failed_execution_moves_to_error_and_sends_an_error_notice() -> None:
    first, second = run(GT5, obs(0, 6), failed(1))
    assert (second.state_from, second.state_to) == ("triggered", "error")
    assert second.notify == "error" and second.suppressed is None and not second.triggered
    assert second.reason == "execution failed: timeout; failure notice"
    assert second.new_status.last_triggered_at == first.new_status.last_triggered_at
    assert second.new_status.consecutive_breaches == 1  # unreadable runs in a row
    assert second.new_status.episode_notified is True
    assert second.new_status.failure_notified is True


def test_bad_value_and_empty_result() -> None:
    [d] = run(GT5, obs(0, "abc"))
    assert d.state_to == "error" and d.reason == 'value "abc" is not a number; failure notice'
    [d] = run(GT5, obs(0, None))
    assert d.state_to == "no_data" and d.value is None


def test_notified_episode_resolves_after_a_gap() -> None:
    decisions = run(GT5, obs(0, 6), failed(1), obs(2, None), obs(3, 4))
    assert [d.state_to for d in decisions] == ["triggered", "error", "no_data", "ok"]
    # One failure notice for the spell (error, then no data); the resolve says it reads
    # again.
    assert notified(decisions) == ["trigger", "error", None, "resolve"]
    assert decisions[3].reason.endswith("resolved (readable again after no_data)")


def test_notified_episode_continues_through_a_gap_without_renotifying() -> None:
    rule = REMIND._replace(pending_evaluations=3)
    decisions = run(rule, obs(0, 6), obs(1, 6), obs(2, 6), failed(3), obs(4, 7), obs(70, 7))
    assert [d.state_to for d in decisions][3:] == ["error", "triggered", "triggered"]
    assert notified(decisions) == [None, None, "trigger", None, None, "trigger"]
    assert decisions[4].reason == (
        "7 > 5; triggered again after error; next reminder in 58 min (cooldown 1h)"
    )
    assert decisions[5].reason == "7 > 5; still triggered: reminder"


def test_gap_after_unnotified_firing_behaves_like_ok() -> None:
    muted = GT5._replace(muted_until=at(3))
    decisions = run(muted, obs(0, 6), failed(1), obs(2, 4), obs(4, 6))
    assert notified(decisions) == [None, None, None, "trigger"]
    assert "never notified" not in decisions[2].reason  # no episode left after the gap
    assert decisions[2].reason.endswith("back to ok")


def test_muted_firing_changes_state_but_sends_nothing() -> None:
    rule = GT5._replace(muted_until=at(120))
    [d] = run(rule, obs(0, 6))
    assert d.state_to == "triggered" and d.notify is None
    assert d.suppressed == "muted until 14:00 UTC"
    assert d.reason == "6 > 5; triggered; not sent: muted until 14:00 UTC"
    assert d.new_status.last_triggered_at is None and not d.new_status.episode_notified
    assert notified(run(GT5._replace(muted_until=at(-1)), obs(0, 6))) == ["trigger"]  # past mute


def test_mute_across_days_shows_the_date() -> None:
    rule = GT5._replace(muted_until=datetime(2026, 1, 2, 9, 30, tzinfo=UTC))
    [d] = run(rule, obs(0, 6))
    assert d.suppressed == "muted until 2026-01-02 09:30 UTC"


def test_firing_while_muted_is_notified_once_the_mute_ends() -> None:
    rule = GT5._replace(muted_until=at(30))
    decisions = run(rule, obs(0, 6), obs(10, 7), obs(29, 7), obs(30, 8))
    assert notified(decisions) == [None, None, None, "trigger"]
    assert decisions[3].new_status.last_triggered_at == at(30)


def test_a_resolve_gets_through_a_mute() -> None:
    # The user was told of the firing: they hear it is over, mute or not (issue 17).
    status = AlertStatus("triggered", 1, at(-5), at(-5), episode_notified=True)
    rule = GT5._replace(muted_until=at(60))
    [d] = run(rule, obs(0, 4), status=status)
    assert d.state_to == "ok" and d.notify == "resolve" and d.suppressed is None
    assert d.reason.endswith(
        "resolved (sent while muted until 13:00 UTC: resolves get through a mute)"
    )
    assert d.new_status.episode_notified is False


def test_resolve_while_muted_is_dropped_when_the_alert_says_so() -> None:
    status = AlertStatus("triggered", 1, at(-5), at(-5), episode_notified=True)
    rule = GT5._replace(muted_until=at(60), drop_resolve_when_muted=True)
    [d] = run(rule, obs(0, 4), status=status)
    assert d.state_to == "ok" and d.notify is None
    assert d.suppressed == "muted until 13:00 UTC (resolves dropped while muted)"
    assert d.new_status.episode_notified is False


def test_a_firing_held_back_by_a_mute_is_sent_by_the_first_breach_after_it() -> None:
    rule = GT5._replace(muted_until=at(30))
    decisions = run(rule, obs(0, 7), obs(40, 8))
    assert notified(decisions) == [None, "trigger"]
    assert "sending the held-back notification" in decisions[1].reason


def test_older_execution_is_recorded_but_changes_nothing() -> None:
    status = AlertStatus("ok", 0, None, at(10))
    [d] = run(GT5, obs(5, 6), status=status)
    assert d.applied is False and d.notify is None
    assert d.new_status == status and d.state_from == d.state_to == "ok"
    assert d.triggered and d.value == 6
    assert d.suppressed == "older execution"
    assert d.reason == (
        "6 > 5; older than the last evaluated execution (2025-12-30 12:10:00 UTC): "
        "recorded, state unchanged"
    )
    # nothing would have been sent anyway: nothing to call suppressed
    [d] = run(GT5, obs(5, 4), status=status)
    assert not d.applied and d.suppressed is None


def test_equal_timestamps_are_in_order_and_naive_times_read_as_utc() -> None:
    first, second = run(GT5, obs(0, 6), obs(0, 4))
    assert second.applied and second.notify == "resolve"
    [d] = run(GT5, obs(5, 6), status=AlertStatus("ok", 0, None, at(10).replace(tzinfo=None)))
    assert not d.applied


def test_suppress_a_new_firing_keeps_previous_bookkeeping() -> None:
    previous = AlertStatus("ok", 0, at(-120), at(-1))
    [d] = run(GT5, obs(0, 6), status=previous)
    assert d.notify == "trigger"
    lost = suppress(d, "cooldown: claimed by another worker")
    assert lost.notify is None and lost.suppressed == "cooldown: claimed by another worker"
    assert lost.reason == "6 > 5; triggered; not sent: cooldown: claimed by another worker"
    assert lost.new_status.state == "triggered"
    assert lost.new_status.last_triggered_at == at(-120)
    assert lost.new_status.episode_notified is False
    assert lost.new_status.last_evaluated_at == at(0)


def test_suppress_a_repeat_keeps_the_episode_notified() -> None:
    previous = AlertStatus("triggered", 3, at(-120), at(-1), episode_notified=True)
    [d] = run(REMIND, obs(0, 6), status=previous)
    assert d.notify == "trigger"
    lost = suppress(d, "lost the race")
    assert lost.new_status.episode_notified is True
    assert lost.new_status.last_triggered_at == at(-120)


def test_suppress_resolve_and_no_op() -> None:
    _, resolve = run(GT5, obs(0, 6), obs(1, 4))
    quiet = suppress(resolve, "muted")
    assert quiet.notify is None and quiet.new_status == resolve.new_status
    [nothing] = run(GT5, obs(0, 4))
    assert suppress(nothing, "whatever") is nothing


def test_backtest_starts_from_the_given_status() -> None:
    status = AlertStatus("triggered", 1, at(-10), at(-10), episode_notified=True)
    [d] = backtest(GT5, [obs(0, 4)], status)
    assert d.notify == "resolve"
    assert backtest(GT5, []) == []
