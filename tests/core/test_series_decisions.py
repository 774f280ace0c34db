"""The core's series rules: absence, matchers, the alert's summary, and per-series
evaluation, given / when / then and as properties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.alerts.absence import absent
from tocsin.alerts.batch import BatchAlert, EvaluationBatch, decide, summary
from tocsin.alerts.decision import AlertRule, AlertStatus, Observation, backtest
from tocsin.alerts.matchers import MatcherError, parse_filter, parse_matcher, watches
from tocsin.metrics.extract import extract_value

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GT5 = AlertRule("threshold", "gt", Decimal(5), cooldown_seconds=600)
FIRING = AlertStatus("triggered", 1, T0, T0, True)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_an_absent_series_is_no_data_then_resolves_after_the_runs_allowed() -> None:
    first = absent(GT5, FIRING, at(1))
    assert first.state_to == "no_data" and first.notify is None
    assert first.reason == "series not in this run; resolves after 2 runs absent"
    assert first.new_status.missing_runs == 1 and first.new_status.episode_notified
    second = absent(GT5, first.new_status, at(2))
    assert second.state_to == "ok" and second.notify == "resolve"
    assert "no longer reported" in second.reason


def test_an_absent_series_that_never_notified_just_goes_quiet() -> None:
    pending = AlertStatus("pending", 1, None, T0, False)
    decisions = [absent(GT5, pending, at(1))]
    decisions.append(absent(GT5, decisions[-1].new_status, at(2)))
    assert [d.state_to for d in decisions] == ["no_data", "no_data"]
    assert all(d.notify is None for d in decisions)


def test_an_absent_series_resolves_muted_or_silently_as_the_rule_says() -> None:
    muted = GT5._replace(muted_until=at(60), resolve_missing_after=1)
    d = absent(muted, FIRING, at(1))
    # A resolve gets through a mute (issue 17), unless the alert drops them
    assert d.state_to == "ok" and d.notify == "resolve"
    assert "resolves get through a mute" in d.reason
    dropping = muted._replace(drop_resolve_when_muted=True)
    d = absent(dropping, FIRING, at(1))
    assert d.state_to == "ok" and d.notify is None
    assert d.suppressed == "muted until 13:00 UTC (resolves dropped while muted)"
    quiet = GT5._replace(notify_on_resolve=False, resolve_missing_after=1)
    assert absent(quiet, FIRING, at(1)).notify is None


def test_seen_again_resets_the_count_of_absent_runs() -> None:
    gone = absent(GT5, FIRING, at(1)).new_status
    item = BatchAlert(uuid.uuid4(), "a", "[]", GT5, gone, "{}", {}, uuid.uuid4(), extract_value(9))
    (back,) = decide(EvaluationBatch(at(2), [item]))
    assert back.state_to == "triggered" and back.new_status.missing_runs == 0


@pytest.mark.parametrize(
    ("text", "labels", "holds"),
    [
        ("service=api", {"service": "api"}, True),
        ("service!=batch", {"service": "batch"}, False),
        ("service!=batch", {}, True),  # a label the series lacks reads as ""
        ("region=~eu-.*", {"region": "eu-west"}, True),
        ("region=~eu", {"region": "eu-west"}, False),  # the whole value must match
        ("region!~us-.*", {"region": "us-east"}, False),
        ('team="core ops"', {"team": "core ops"}, True),
    ],
)
def test_matchers_read_as_alertmanager_writes_them(
    text: str, labels: dict[str, str], holds: bool
) -> None:
    assert watches(parse_filter([text]), labels) is holds


def test_a_bad_matcher_says_what_was_expected() -> None:
    with pytest.raises(MatcherError, match="expected a label matcher such as service!=batch"):
        parse_matcher("service<>batch")
    with pytest.raises(MatcherError, match="regular expression does not parse"):
        parse_matcher("service=~(")
    # RE2: what would need backtracking is refused when the alert is saved
    with pytest.raises(MatcherError, match="regular expression does not parse"):
        parse_matcher(r"service=~(a)\1")


def test_a_catastrophic_pattern_is_answered_at_once() -> None:
    # A tenant's (a+)+$ against 40 a's and a b takes backtracking engines 2^40 steps; on
    # RE2 it is linear, so this test finishes instead of stalling the worker.
    matcher = parse_matcher("service=~(a+)+$")
    assert not matcher.holds({"service": "a" * 40 + "b"})
    assert matcher.holds({"service": "aaa"})


STATES = st.sampled_from(["ok", "pending", "triggered", "no_data", "error"])
TIMES = st.one_of(st.none(), st.integers(0, 1000).map(lambda m: at(m)))
STATUSES = st.builds(
    AlertStatus, STATES, st.integers(0, 5), TIMES, st.just(T0), st.booleans(), st.integers(0, 3)
)
RANK = ["ok", "no_data", "error", "pending", "triggered"]


@given(st.lists(STATUSES, min_size=1, max_size=12))
def test_the_summary_is_the_worst_series_with_the_latest_trigger(
    statuses: list[AlertStatus],
) -> None:
    worst, status = summary(statuses)
    assert status.state == max((s.state for s in statuses), key=RANK.index)
    assert statuses[worst].state == status.state
    times = [s.last_triggered_at for s in statuses if s.last_triggered_at is not None]
    assert status.last_triggered_at == (max(times) if times else None)
    if len(statuses) == 1:
        assert status == statuses[0]


PUSHES = st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 10)), max_size=25)


@given(PUSHES)
def test_series_evaluated_interleaved_equal_each_series_alone(
    pushes: list[tuple[str, int]],
) -> None:
    # Given pushes of single series, one a minute, interleaved
    stored: dict[str, AlertStatus] = {}
    together: dict[str, list[str | None]] = {}
    for minute, (series, value) in enumerate(pushes):
        item = BatchAlert(
            uuid.uuid4(), "a", "[]", GT5, stored.get(series, AlertStatus()), series,
            {"s": series}, None, extract_value(value),
        )  # fmt: skip
        (d,) = decide(EvaluationBatch(at(minute), [item]))
        stored[series] = d.new_status
        together.setdefault(series, []).append(d.notify)
    # Then each series decided exactly as its own pushes alone would be
    for series, notified in together.items():
        alone = [
            Observation(at(m), extract_value(v)) for m, (s, v) in enumerate(pushes) if s == series
        ]
        assert [d.notify for d in backtest(GT5, alone)] == notified


@given(PUSHES)
def test_no_series_triggers_twice_inside_its_cooldown(pushes: list[tuple[str, int]]) -> None:
    stored: dict[str, AlertStatus] = {}
    fired: dict[str, list[datetime]] = {}
    for minute, (series, value) in enumerate(pushes):
        item = BatchAlert(
            uuid.uuid4(), "a", "[]", GT5, stored.get(series, AlertStatus()), series,
            {"s": series}, None, extract_value(value),
        )  # fmt: skip
        (d,) = decide(EvaluationBatch(at(minute * 3), [item]))
        stored[series] = d.new_status
        if d.notify == "trigger":
            fired.setdefault(series, []).append(at(minute * 3))
    for times in fired.values():
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(g >= timedelta(seconds=GT5.cooldown_seconds) for g in gaps)
