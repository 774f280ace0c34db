"""What a drafted alert would do: now (dry run) and over recorded history (backtest).

Both go through the live decision core with the live inputs: each execution's value as
``observe`` reads it with the metric's selector, its completion time, and for a relative
change the value of the completed run ``lookback`` runs before it (the stored value when
there is one, as live evaluation reads it). So the backtest says what live evaluation
would have done, not an approximation of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.ai.series_preview import (
    baseline_run,
    chart_series,
    has_series,
    series_backtest,
    series_dry_run,
    series_summary,
    series_words,
)
from tocsin.ai.wording import number_text
from tocsin.alerts import decision as core
from tocsin.metrics.extract import Extracted
from tocsin.metrics.model import Execution, Metric, observe, observe_series
from tocsin.metrics.series import SeriesSet
from tocsin.metrics.store import MetricStore
from tocsin.numbers import json_number

BACKTEST_RUNS = 30


def _at(execution: Execution) -> datetime:
    return execution.completed_at or execution.started_at


def _history(conn: Connection, metric: Metric, depth: int) -> list[Execution]:
    """Finished executions, oldest first, in the order live evaluation saw them."""
    rows = MetricStore(conn, metric.org_id).executions(metric.id, limit=depth)
    finished = [e for e in rows if e.status != "running"]
    return sorted(finished, key=lambda e: (_at(e), str(e.id)))


def _observations(
    metric: Metric, rule: core.AlertRule, history: Sequence[Execution]
) -> list[tuple[Execution, core.Observation]]:
    out = []
    for i, execution in enumerate(history):
        baseline = None
        if rule.condition_type == "relative_change":
            earlier = [e for e in history[:i] if e.status == "completed"]
            if len(earlier) >= rule.lookback:
                base = earlier[-rule.lookback]
                baseline = (
                    Extracted("value", base.value, "stored value")
                    if base.value is not None
                    else observe(base, metric.selector)
                )
        extracted = observe(execution, metric.selector)
        out.append((execution, core.Observation(_at(execution), extracted, baseline)))
    return out


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _readings(metric: Metric, history: Sequence[Execution]) -> list[SeriesSet] | None:
    """Each run's series, when the metric has series (None: the one series ``{}``)."""
    readings = [observe_series(e, metric.selector) for e in history]
    return readings if has_series(metric, readings) else None


def dry_run(
    conn: Connection,
    metric: Metric,
    rule: core.AlertRule,
    *,
    series_filter: Sequence[str] = (),
) -> dict[str, Any]:
    """The draft against the metric's latest completed run (each watched series of it,
    for a metric with series)."""
    history = _history(conn, metric, rule.lookback + 50)
    readings = _readings(metric, history)
    if readings is not None:
        completed = [i for i, e in enumerate(history) if e.status == "completed"]
        if completed:
            last = completed[-1]
            earlier = [baseline_run(history[i], readings[i]) for i in reversed(completed[:-1])]
            return series_dry_run(rule, series_filter, history[last], readings[last], earlier)
    observed = [(e, o) for e, o in _observations(metric, rule, history) if e.status == "completed"]
    if not observed:
        return {
            "execution_id": None,
            "value": None,
            "condition_met": None,
            "would_fire": False,
            "reason": "no completed run yet",
            "text": "no completed run yet: nothing to check the condition against",
        }
    execution, obs = observed[-1]
    # A fresh alert: no earlier breaches, no cooldown, not muted.
    decision = core.evaluate(rule._replace(muted_until=None), core.AlertStatus(), obs)
    fires = decision.notify == "trigger"
    shown = f"now {number_text(decision.value)}" if decision.value is not None else "latest run"
    if fires:
        text = f"{shown}: it would fire now"
    elif decision.triggered:
        text = (
            f"{shown}: the condition holds; it fires after {rule.pending_evaluations} runs in a row"
        )
    elif decision.state_to in ("no_data", "error"):
        text = f"{shown}: it would not fire now ({decision.reason})"
    else:
        text = f"{shown}: it would not fire now"
    return {
        "execution_id": str(execution.id),
        "completed_at": _at(execution).isoformat(),
        "value": json_number(decision.value),
        "baseline_value": json_number(decision.baseline_value),
        "condition_met": decision.triggered,
        "would_fire": fires,
        "reason": decision.reason,
        "text": text,
    }


@dataclass
class Backtest:
    """A backtest: its summary, and the runs a chart draws (for a metric with series,
    those of one series, ``chart_labels``: the one that fired most)."""

    summary: dict[str, Any]
    chart: list[tuple[Execution, core.Decision]]
    chart_labels: str | None = None


def run_backtest(
    conn: Connection,
    metric: Metric,
    rule: core.AlertRule,
    runs: int = BACKTEST_RUNS,
    *,
    series_filter: Sequence[str] = (),
) -> Backtest:
    """Live evaluation folded over the last ``runs`` finished runs, oldest first (per
    series, for a metric with series)."""
    history = _history(conn, metric, runs + rule.lookback + 50)
    readings = _readings(metric, history)
    if readings is None:
        observed = _observations(metric, rule, history)[-runs:]
        decisions = core.backtest(rule, [o for _, o in observed])
        decided = [(e, d) for (e, _), d in zip(observed, decisions, strict=True)]
        return Backtest(backtest_summary(decided), decided)
    per_run = series_backtest(metric, rule, series_filter, history, readings, runs)
    labels, drawn = chart_series(per_run)
    chart = [(d.execution, d.decision) for d in drawn]
    return Backtest(series_summary(per_run), chart, series_words(labels) if drawn else None)


def backtest_decisions(
    conn: Connection,
    metric: Metric,
    rule: core.AlertRule,
    runs: int = BACKTEST_RUNS,
    *,
    series_filter: Sequence[str] = (),
) -> list[tuple[Execution, core.Decision]]:
    """Each of the last ``runs`` finished runs, oldest first, with what live evaluation
    would have decided on it (the backtest run by run, as the editor's chart draws it)."""
    return run_backtest(conn, metric, rule, runs, series_filter=series_filter).chart


def backtest(
    conn: Connection,
    metric: Metric,
    rule: core.AlertRule,
    runs: int = BACKTEST_RUNS,
    *,
    series_filter: Sequence[str] = (),
) -> dict[str, Any]:
    """Live evaluation folded over the last ``runs`` finished runs, oldest first."""
    return run_backtest(conn, metric, rule, runs, series_filter=series_filter).summary


def backtest_summary(observed: Sequence[tuple[Execution, core.Decision]]) -> dict[str, Any]:
    """What :func:`backtest` says of the decisions it folded."""
    decisions = [d for _, d in observed]
    fired = [(e, d) for e, d in observed if d.notify == "trigger"]
    held = sum(d.triggered for d in decisions)
    n = len(decisions)
    last = _at(fired[-1][0]) if fired else None
    window = "the last run" if n == 1 else f"the last {n} runs"
    if n == 0:
        text = "no recorded runs to backtest"
    elif fired and last is not None:
        times = "once" if len(fired) == 1 else f"{len(fired)} times"
        text = f"would have fired {times} in {window}, last on {_when(last)}"
        if held > len(fired):
            text += f" (the condition held in {held} of them)"
    else:
        text = f"would not have fired in {window}"
        if held:
            text += f" (the condition held {held} times, not enough runs in a row)"
    return {
        "runs": n,
        "fired": len(fired),
        "condition_met": held,
        "last_fired_at": last.isoformat() if last else None,
        "text": text,
    }
