"""Properties of the decision core that must hold for any history (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.alerts.decision import (
    AlertRule,
    AlertStatus,
    Decision,
    Observation,
    backtest,
    evaluate,
    suppress,
)
from tocsin.metrics.extract import Extracted

T0 = datetime(2025, 12, 30, 12, 0, tzinfo=UTC)
FAR_FUTURE = T0 + timedelta(days=3650)

# A decorator, not a loaded profile: profiles are global and other suites have their own.
thorough = settings(max_examples=300, deadline=None)

rules = st.builds(
    AlertRule,
    condition_type=st.sampled_from(["threshold", "relative_change"]),
    comparison_op=st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
    threshold_value=st.integers(-5, 5).map(Decimal),
    change_mode=st.sampled_from(["percent", "absolute"]),
    lookback=st.integers(1, 3),
    cooldown_seconds=st.sampled_from([0, 1, 60, 600, 3600]),
    pending_evaluations=st.integers(1, 3),
    notify_on_resolve=st.booleans(),
    muted_until=st.none() | st.integers(0, 20_000).map(lambda s: T0 + timedelta(seconds=s)),
    drop_resolve_when_muted=st.booleans(),
    on_no_data=st.sampled_from(["no_data", "alerting", "ok", "keep_last"]),
    on_error=st.sampled_from(["error", "alerting", "ok", "keep_last"]),
    failure_notice=st.booleans(),
    repeat_every_seconds=st.none() | st.sampled_from([0, 1, 60, 600, 3600, 7200]),
    recovery_op=st.none() | st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]),
    recovery_threshold=st.none() | st.integers(-5, 5).map(Decimal),
    recover_from=st.sampled_from(["run", "episode"]),
    for_seconds=st.sampled_from([0, 0, 60, 300, 3600]),
    keep_firing_seconds=st.sampled_from([0, 0, 60, 600]),
)

UNREADABLE = [
    Extracted("error", None, "execution failed: boom"),
    Extracted("error", None, 'value "abc" is not a number'),
    Extracted("no_data", None, "the query returned no rows"),
    Extracted("error", None, ""),  # a careless caller must still get a reason
]


def _extracted(kind: int, value: int) -> Extracted:
    # readable values dominate so that long breach/clear runs and episodes actually occur
    if kind < len(UNREADABLE):
        return UNREADABLE[kind]
    return Extracted("value", Decimal(value), f"value {value}")


extracted = st.builds(_extracted, st.integers(0, 20), st.integers(-4, 4))


def history(
    steps: list[tuple[int, Extracted]], rule: AlertRule, *, monotone: bool = True
) -> list[Observation]:
    """Observations whose baseline is the value `lookback` completed runs back."""
    observations: list[Observation] = []
    completed: list[Extracted] = []
    seconds = 0
    for delta, current in steps:
        seconds = seconds + delta if monotone else delta
        baseline = completed[-rule.lookback] if len(completed) >= rule.lookback else None
        observations.append(Observation(T0 + timedelta(seconds=seconds), current, baseline))
        if not current.reason.startswith("execution failed"):
            completed.append(current)
    return observations


def steps_of(gaps: st.SearchStrategy[int]) -> st.SearchStrategy[list[tuple[int, Extracted]]]:
    # Histories must be long enough for pending runs, flapping and cooldown expiry to occur;
    # a drawn length keeps the shrinker able to go short.
    step = st.tuples(gaps, extracted)
    return st.integers(0, 60).flatmap(lambda n: st.lists(step, min_size=n, max_size=n))


monotone_steps = steps_of(st.integers(0, 4000))
any_order_steps = steps_of(st.integers(0, 40_000))
statuses = st.builds(
    AlertStatus,
    state=st.sampled_from(["ok", "pending", "triggered", "no_data", "error"]),
    consecutive_breaches=st.integers(0, 5),
    last_triggered_at=st.none() | st.integers(-9000, 9000).map(lambda s: T0 + timedelta(seconds=s)),
    last_evaluated_at=st.integers(0, 9000).map(lambda s: T0 + timedelta(seconds=s)),
    episode_notified=st.booleans(),
    failure_notified=st.booleans(),
    last_failure_notice_at=st.none()
    | st.integers(-9000, 9000).map(lambda s: T0 + timedelta(seconds=s)),
    episode_baseline=st.none() | st.integers(-5, 5).map(Decimal),
    breaching_since=st.none() | st.integers(-9000, 9000).map(lambda s: T0 + timedelta(seconds=s)),
    cleared_since=st.none() | st.integers(-9000, 9000).map(lambda s: T0 + timedelta(seconds=s)),
)


def live(rule: AlertRule, observations: list[Observation]) -> list[Decision]:
    status = AlertStatus()
    decisions = []
    for observation in observations:
        decision = evaluate(rule, status, observation)
        decisions.append(decision)
        status = decision.new_status
    return decisions


@thorough
@given(rules, monotone_steps | any_order_steps)
def test_a_no_two_triggers_within_the_cooldown(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    for monotone in (True, False):  # out-of-order deliveries must not open a loophole either
        decisions = live(rule, history(steps, rule, monotone=monotone))
        times = [d.new_status.last_triggered_at for d in decisions if d.notify == "trigger"]
        for earlier, later in zip(times, times[1:], strict=False):
            assert earlier is not None and later is not None
            assert later - earlier >= timedelta(seconds=rule.cooldown_seconds)


@thorough
@given(rules, monotone_steps)
def test_b_nothing_is_sent_while_muted(rule: AlertRule, steps: list[tuple[int, Extracted]]) -> None:
    muted = rule._replace(muted_until=FAR_FUTURE)
    for decision in live(muted, history(steps, muted)):
        assert decision.notify is None
        assert decision.new_status.last_triggered_at is None
        if decision.suppressed is not None:
            assert decision.suppressed.startswith("muted until")


@thorough
@given(rules, statuses, extracted, st.integers(1, 9000))
def test_c_an_older_observation_never_changes_the_status(
    rule: AlertRule, status: AlertStatus, current: Extracted, older_by: int
) -> None:
    assert status.last_evaluated_at is not None
    observation = Observation(status.last_evaluated_at - timedelta(seconds=older_by), current)
    decision = evaluate(rule, status, observation)
    assert decision.applied is False
    assert decision.new_status == status
    assert decision.notify is None
    assert decision.state_from == decision.state_to == status.state
    assert "older than the last evaluated execution" in decision.reason


@thorough
@given(rules, any_order_steps)
def test_c_older_observations_in_a_history_are_never_applied(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    status = AlertStatus()
    for observation in history(steps, rule, monotone=False):
        decision = evaluate(rule, status, observation)
        newest = status.last_evaluated_at
        if newest is not None and observation.at < newest:
            assert not decision.applied and decision.new_status == status
        else:
            assert decision.applied and decision.new_status.last_evaluated_at == observation.at
        status = decision.new_status


@thorough
@given(rules, statuses, extracted, st.one_of(st.none(), extracted), st.integers(-9000, 20_000))
def test_d_every_decision_has_a_reason(
    rule: AlertRule,
    status: AlertStatus,
    current: Extracted,
    baseline: Extracted | None,
    offset: int,
) -> None:
    observation = Observation(T0 + timedelta(seconds=offset), current, baseline)
    decision = evaluate(rule, status, observation)
    assert decision.reason.strip()
    if decision.suppressed is not None:
        assert decision.suppressed.strip() and decision.notify is None


@thorough
@given(rules, monotone_steps | any_order_steps)
def test_e_resolve_only_after_a_trigger_sent_in_the_same_episode(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    told = False  # a trigger notification went out in the current episode
    for decision in live(rule, history(steps, rule, monotone=len(steps) % 2 == 0)):
        if decision.notify == "trigger":
            told = True
        if decision.notify == "resolve":
            assert told
            assert decision.state_from in ("triggered", "no_data", "error")
            assert decision.state_to == "ok"
        if decision.applied and decision.state_to == "ok":
            told = False


@thorough
@given(rules, monotone_steps | any_order_steps, st.one_of(st.none(), statuses))
def test_f_backtest_is_sequential_evaluation(
    rule: AlertRule, steps: list[tuple[int, Extracted]], start: AlertStatus | None
) -> None:
    observations = history(steps, rule)
    status = start or AlertStatus()
    expected = []
    for observation in observations:
        expected.append(evaluate(rule, status, observation))
        status = expected[-1].new_status
    assert backtest(rule, observations, start or AlertStatus()) == expected
    if start is None:
        assert backtest(rule, observations) == expected


@thorough
@given(rules, monotone_steps)
def test_notification_bookkeeping_is_consistent(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    for decision in live(rule, history(steps, rule)):
        old, new = decision.previous_status, decision.new_status
        if decision.notify == "trigger":
            assert decision.state_to == "triggered" and decision.triggered
            assert new.episode_notified and new.last_triggered_at is not None
            assert new.last_triggered_at == new.last_evaluated_at
            assert decision.suppressed is None
        else:
            assert new.last_triggered_at == old.last_triggered_at
        if decision.state_to in ("no_data", "error"):
            # recovered: this run's value read, only a baseline is missing
            assert decision.notify in (None, decision.state_to, "recovered")
            assert not decision.triggered
            assert new.consecutive_breaches >= 1  # the unreadable runs in a row
        if decision.state_to == "pending":
            assert new.consecutive_breaches > 0
            # Pending for lack of runs, or of time held (for_seconds)
            assert new.consecutive_breaches < rule.pending_evaluations or rule.for_seconds > 0
        if decision.notify is not None:
            suppressed = suppress(decision, "lost the cooldown claim")
            assert suppressed.notify is None
            assert suppressed.new_status.last_triggered_at == old.last_triggered_at
            assert suppressed.new_status.state == new.state


@thorough
@given(rules, monotone_steps)
def test_without_reminders_an_episode_notifies_its_firing_once(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    quiet = rule._replace(repeat_every_seconds=None)
    sent = 0  # trigger notifications in the current episode
    for decision in live(quiet, history(steps, quiet)):
        sent += decision.notify == "trigger"
        assert sent <= 1
        if decision.applied and decision.state_to == "ok":
            sent = 0


@thorough
@given(rules, monotone_steps)
def test_reminders_keep_to_the_longer_of_repeat_and_cooldown(
    rule: AlertRule, steps: list[tuple[int, Extracted]]
) -> None:
    decisions = live(rule, history(steps, rule))
    for d in decisions:
        old = d.previous_status
        reminder = d.notify == "trigger" and old.state == "triggered" and old.episode_notified
        if reminder:
            assert rule.repeat_every_seconds is not None and old.last_triggered_at is not None
            gap = d.new_status.last_triggered_at - old.last_triggered_at
            assert gap >= timedelta(seconds=max(rule.repeat_every_seconds, rule.cooldown_seconds))
