"""What a drafted alert would do: now (dry run) and over recorded history (backtest).

Both go through the live decision core with the live inputs: each execution's value as
``observe`` reads it with the metric's selector, its completion time, and for a relative
change the value of the completed run ``lookback`` runs before it (the stored value when
there is one, as live evaluation reads it). So the backtest says what live evaluation
would have done, not an approximation of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.ai.wording import number_text
from tocsin.alerts import decision as core
from tocsin.metrics.extract import Extracted
from tocsin.metrics.model import Execution, Metric, observe
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


def dry_run(conn: Connection, metric: Metric, rule: core.AlertRule) -> dict[str, Any]:
    """The draft against the metric's latest completed run."""
    history = _history(conn, metric, rule.lookback + 50)
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


def backtest_decisions(
    conn: Connection, metric: Metric, rule: core.AlertRule, runs: int = BACKTEST_RUNS
) -> list[tuple[Execution, core.Decision]]:
    """Each of the last ``runs`` finished runs, oldest first, with what live evaluation
    would have decided on it (the backtest run by run, as the editor's chart draws it)."""
    history = _history(conn, metric, runs + rule.lookback + 50)
    observed = _observations(metric, rule, history)[-runs:]
    decisions = core.backtest(rule, [o for _, o in observed])
    return [(e, d) for (e, _), d in zip(observed, decisions, strict=True)]


def backtest(
    conn: Connection, metric: Metric, rule: core.AlertRule, runs: int = BACKTEST_RUNS
) -> dict[str, Any]:
    """Live evaluation folded over the last ``runs`` finished runs, oldest first."""
    return backtest_summary(backtest_decisions(conn, metric, rule, runs))


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
