"""The dry run and the backtest of a metric with series: each series on its own.

A run is read into its series as live evaluation reads it (``observe_series`` with the
metric's selector and ``series_by``), the alert's ``series_filter`` picks the series it
watches, and each run is one evaluation batch decided by the live ``batch.decide``: every
series with its own pending count, cooldown and baseline (the same series ``lookback``
completed runs back), a series absent from a run recorded as absent (and resolved after
``resolve_missing_after`` such runs), a labelled push saying nothing of the series it
does not name. So the backtest is what live evaluation would have decided per series.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tocsin.alerts import decision as core
from tocsin.alerts.batch import BatchAlert, EvaluationBatch, decide
from tocsin.alerts.matchers import Matcher, parse_filter, watches
from tocsin.alerts.reading import FORGET_AFTER, too_many_series
from tocsin.metrics.extract import Extracted
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.series import Labels, Series, SeriesSet
from tocsin.numbers import format_decimal, json_number
from tocsin.settings import get_settings

# A series missing from an earlier run has no baseline there (as live evaluation says).
_ABSENT_BEFORE = Extracted("no_data", None, "the series was not in that run")
# How many series a summary names; the rest are counted.
NAMED_SERIES = 10
_NO_ID = uuid.UUID(int=0)


def series_words(labels: Labels) -> str:
    """``service=api`` (one label), ``{service="api", region="eu"}`` (several)."""
    if not labels:
        return "{}"
    if len(labels) == 1:
        [(name, value)] = labels.items()
        return f"{name}={value}"
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def has_series(metric: Metric, readings: Sequence[SeriesSet]) -> bool:
    """A metric with label columns, or whose runs carry labelled values."""
    if metric.selector is not None and metric.selector.series_by:
        return True
    return any(r.partial or any(s.key != "{}" for s in r.series) for r in readings)


@dataclass(frozen=True, slots=True)
class SeriesDecision:
    """What live evaluation would have decided for one series on one run."""

    execution: Execution
    key: str
    labels: Labels
    decision: core.Decision


def at_of(execution: Execution) -> datetime:
    return execution.completed_at or execution.started_at


def baseline_run(execution: Execution, reading: SeriesSet) -> dict[str, Extracted]:
    """One completed run as a baseline: each series' value (the stored value of a run
    with the one series ``{}``, as live evaluation reads it)."""
    if execution.value is not None:
        return {"{}": Extracted("value", execution.value, "stored value")}
    return {s.key: s.extracted for s in reading.series}


class _Fold:
    """Each watched series' status, run after run."""

    def __init__(self, rule: core.AlertRule, matchers: Sequence[Matcher]) -> None:
        self.rule = rule
        self.matchers = matchers
        self.limit = get_settings().max_series_per_alert
        # key -> (labels, status, last seen in a run); sorted by key as the store reads them
        self.known: dict[str, tuple[Labels, core.AlertStatus, datetime | None]] = {}

    def items(
        self, at: datetime, reading: SeriesSet, earlier: Sequence[dict[str, Extracted]]
    ) -> list[BatchAlert]:
        watched: list[Series] | Extracted
        if reading.failure is not None:
            watched = reading.failure
        else:
            watched = [s for s in reading.series if watches(self.matchers, s.labels)]
            if len(watched) > self.limit:
                watched = too_many_series(len(watched), self.limit)
        by_key = {s.key: s for s in reading.series}
        rule, out = self.rule, []
        for key in sorted(self.known):
            labels, status, seen = self.known[key]
            if isinstance(watched, Extracted):
                current: Extracted | None = watched
            else:
                found = by_key.get(key)
                current = None if found is None else found.extracted
            if current is None and reading.partial:
                continue
            if current is None and seen is not None and seen < at - FORGET_AFTER:
                del self.known[key]
                continue
            base = [run.get(key, _ABSENT_BEFORE) for run in earlier]
            out.append(
                BatchAlert(_NO_ID, "", "[]", rule, status, key, labels, _NO_ID, current, base, seen)
            )
        if isinstance(watched, Extracted):
            new = [] if self.known else [Series("{}", {}, watched)]
        else:
            new = [s for s in watched if s.key not in self.known]
        for s in new:
            base = [run.get(s.key, _ABSENT_BEFORE) for run in earlier]
            out.append(
                BatchAlert(
                    _NO_ID, "", "[]", rule, core.AlertStatus(), s.key, s.labels, None,
                    s.extracted, base,
                )
            )  # fmt: skip
        return out

    def step(
        self, execution: Execution, reading: SeriesSet, earlier: Sequence[dict[str, Extracted]]
    ) -> list[SeriesDecision]:
        at = at_of(execution)
        items = self.items(at, reading, earlier)
        decisions = decide(EvaluationBatch(at, items))
        out = []
        for item, d in zip(items, decisions, strict=True):
            if d.applied:
                seen = at if item.current is not None else item.seen_at
                self.known[item.series_key] = (item.labels, d.new_status, seen)
            out.append(SeriesDecision(execution, item.series_key, item.labels, d))
        return out


def series_backtest(
    metric: Metric,
    rule: core.AlertRule,
    series_filter: Sequence[str],
    history: Sequence[Execution],
    readings: Sequence[SeriesSet],
    runs: int,
) -> list[list[SeriesDecision]]:
    """The last ``runs`` of ``history`` (finished runs, oldest first, each with its
    reading), each with its series' decisions."""
    fold = _Fold(rule, parse_filter(list(series_filter)))
    first = max(len(history) - runs, 0)
    earlier: list[dict[str, Extracted]] = []  # completed runs before, newest first
    out = []
    for i, (execution, reading) in enumerate(zip(history, readings, strict=True)):
        if i >= first:
            out.append(fold.step(execution, reading, earlier[: rule.lookback]))
        if execution.status == "completed":
            earlier.insert(0, baseline_run(execution, reading))
    return out


def _named(counts: Counter[str], labels: dict[str, Labels]) -> str:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{series_words(labels[k])} ({n})" for k, n in ranked[:NAMED_SERIES]]
    more = len(ranked) - NAMED_SERIES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def series_summary(runs: Sequence[Sequence[SeriesDecision]]) -> dict[str, Any]:
    """What a per-series backtest says: how often it would have fired, in which series."""
    labels = {d.key: d.labels for run in runs for d in run}
    fired: Counter[str] = Counter(
        d.key for run in runs for d in run if d.decision.notify == "trigger"
    )
    held = sum(d.decision.triggered for run in runs for d in run)
    last = max((at_of(d.execution) for run in runs for d in run if d.decision.notify == "trigger"),
               default=None)  # fmt: skip
    n, total, times = len(runs), len(labels), sum(fired.values())
    over = "the last run" if n == 1 else f"{n} runs"
    if n == 0:
        text = "no recorded runs to backtest"
    elif times and last is not None:
        often = "once" if times == 1 else f"{times} times"
        text = (
            f"would have fired {often} over {over}, in {len(fired)} of {_count(total)}: "
            f"{_named(fired, labels)}; last on {last.strftime('%Y-%m-%d %H:%M UTC')}"
        )
    else:
        text = f"would not have fired over {over} in any of {_count(total)}"
        if held:
            text += f" (the condition held {held} times, not enough runs in a row)"
    return {
        "runs": n,
        "fired": times,
        "condition_met": held,
        "last_fired_at": last.isoformat() if last else None,
        "series_count": total,
        "series_fired": [
            {"labels": labels[k], "fired": c}
            for k, c in sorted(fired.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "text": text,
    }


def _count(series: int) -> str:
    return "1 series" if series == 1 else f"{series} series"


def chart_series(runs: Sequence[Sequence[SeriesDecision]]) -> tuple[Labels, list[SeriesDecision]]:
    """The series a chart of the backtest draws: the one that fired most (then held the
    condition most, then the first by labels), with its decision on each run it was in."""
    fired: Counter[str] = Counter()
    held: Counter[str] = Counter()
    labels: dict[str, Labels] = {}
    for run in runs:
        for d in run:
            labels[d.key] = d.labels
            fired[d.key] += d.decision.notify == "trigger"
            held[d.key] += d.decision.triggered
    if not labels:
        return {}, []
    key = min(labels, key=lambda k: (-fired[k], -held[k], k))
    return labels[key], [d for run in runs for d in run if d.key == key]


def series_dry_run(
    rule: core.AlertRule,
    series_filter: Sequence[str],
    execution: Execution,
    reading: SeriesSet,
    earlier: Sequence[dict[str, Extracted]],
) -> dict[str, Any]:
    """A fresh alert (no breaches, no cooldown, not muted) on each watched series of the
    latest completed run."""
    fold = _Fold(rule._replace(muted_until=None), parse_filter(list(series_filter)))
    decided = fold.step(execution, reading, earlier[: rule.lookback])
    firing = [d for d in decided if d.decision.notify == "trigger"]
    holding = [d for d in decided if d.decision.triggered]
    unreadable = [d for d in decided if d.decision.state_to in ("no_data", "error")]
    total = len(decided)
    if firing:
        text = f"now {len(firing)} of {_count(total)} breach: {_values(firing)}: it would fire now"
    elif holding:
        text = (
            f"now {len(holding)} of {_count(total)} breach: {_values(holding)}; it fires after "
            f"{rule.pending_evaluations} runs in a row"
        )
    elif total == 0:
        text = "the latest run has no series this alert watches: it would not fire now"
    else:
        text = f"now none of {_count(total)} breaches: it would not fire now"
    if unreadable:
        reasons = "; ".join(dict.fromkeys(d.decision.reason for d in unreadable))
        text += f" ({len(unreadable)} not checked: {reasons})"
    return {
        "execution_id": str(execution.id),
        "completed_at": at_of(execution).isoformat(),
        "value": None,
        "baseline_value": None,
        "condition_met": bool(holding),
        "would_fire": bool(firing),
        "reason": _reason(decided, holding),
        "series_count": total,
        "breaching": [
            {"labels": d.labels, "value": json_number(d.decision.value)} for d in holding
        ],
        "text": text,
    }


def _reason(decided: Sequence[SeriesDecision], holding: Sequence[SeriesDecision]) -> str:
    """The decision core's reason when one series says it all."""
    if len(decided) == 1:
        return decided[0].decision.reason
    if len(holding) == 1:
        return f"{series_words(holding[0].labels)}: {holding[0].decision.reason}"
    return ""


def _values(found: Sequence[SeriesDecision]) -> str:
    shown = [
        f"{series_words(d.labels)} ({format_decimal(d.decision.value)})"
        if d.decision.value is not None
        else series_words(d.labels)
        for d in found[:NAMED_SERIES]
    ]
    more = len(found) - NAMED_SERIES
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
