"""What the charts show, worked out without I/O: events on an alert's history, the limit
line of a condition, and sparkline geometry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from tocsin.alerts.decision import NOT_SENT, AlertRule, Decision

EventKind = Literal["fired", "suppressed", "resolved"]

RANGES: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
RANGE_LABELS = {"24h": "Last 24 h", "7d": "7 days", "30d": "30 days", "all": "All runs"}
# A chart draws at most this many of the latest runs; beyond it the page says so.
MAX_POINTS = 20_000
# An alert with series charts, unless one is chosen, this many of them as lines, each
# with at most LINE_POINTS runs: the lines together weigh what one series' chart does.
TOP_LINES = 10
LINE_POINTS = MAX_POINTS // TOP_LINES


def event_kind(state_from: str, state_to: str, notified: bool, reason: str) -> EventKind | None:
    """What a history row marks on the chart: a sent trigger, a withheld one, or a
    recovery. Plain evaluations mark nothing."""
    if notified and state_to == "triggered":
        return "fired"
    if state_from == "triggered" and state_to == "ok":
        return "resolved"
    if NOT_SENT in reason:
        return "suppressed"
    return None


def limit_value(
    rule: AlertRule, baseline: Decimal | None, threshold: Decimal | None = None
) -> Decimal | None:
    """Where the value crosses the condition (or ``threshold``, another limit of the same
    kind): the threshold itself, or for a relative change the baseline moved by the
    allowed change (so the line follows the baseline)."""
    limit = rule.threshold_value if threshold is None else threshold
    if rule.condition_type == "threshold":
        return limit
    if baseline is None or not baseline.is_finite():
        return None
    if rule.change_mode == "absolute":
        return baseline + limit
    return baseline + abs(baseline) * limit / Decimal(100)


def recovery_value(rule: AlertRule, baseline: Decimal | None) -> Decimal | None:
    """Where a triggered series resolves, when its recovery condition is its own: the
    recovery threshold, moved like the limit for a relative change run over run (from the
    episode's start there is no line: that value is no run's baseline)."""
    if rule.recovery_op is None or rule.recovery_threshold is None:
        return None
    if rule.condition_type == "relative_change" and rule.recover_from == "episode":
        return None
    return limit_value(rule, baseline, rule.recovery_threshold)


def range_start(name: str, now: datetime) -> datetime | None:
    """The first moment a range shows; None for all runs. Unknown names are refused."""
    if name not in RANGES:
        raise ValueError(f"expected one of {', '.join(RANGES)}")
    span = RANGES[name]
    return None if span is None else now - span


def epoch_ms(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def sparkline(values: Sequence[float], width: int = 120, height: int = 24, pad: int = 2) -> str:
    """SVG polyline points for ``values`` (oldest first), scaled to the box. A flat series
    is drawn through the middle; fewer than two values draw nothing."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = high - low
    step = (width - 2 * pad) / (len(values) - 1)
    inner = height - 2 * pad
    points = []
    for i, v in enumerate(values):
        y = pad + inner / 2 if span == 0 else pad + inner * (1 - (v - low) / span)
        points.append(f"{pad + i * step:.1f},{y:.1f}")
    return " ".join(points)


@dataclass
class ChartData:
    """Arrays aligned on ``t`` (seconds), as uPlot takes them."""

    t: list[float] = field(default_factory=list)
    value: list[float | None] = field(default_factory=list)
    limit: list[float | None] = field(default_factory=list)
    baseline: list[float | None] = field(default_factory=list)
    recovery: list[float | None] = field(default_factory=list)  # where it resolves
    fired: list[float | None] = field(default_factory=list)
    suppressed: list[float | None] = field(default_factory=list)
    resolved: list[float | None] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    truncated: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "value": self.value,
            "limit": self.limit,
            "baseline": self.baseline,
            "recovery": self.recovery,
            "fired": self.fired,
            "suppressed": self.suppressed,
            "resolved": self.resolved,
            "reason": self.reason,
            "truncated": self.truncated,
            "counts": {
                kind: sum(v is not None for v in getattr(self, kind))
                for kind in ("fired", "suppressed", "resolved")
            },
        }


@dataclass
class Line:
    """One series of a chart of several, its values aligned on the chart's ``t``."""

    series_id: str
    name: str  # as series are named everywhere: {service="api"}
    labels: dict[str, str]
    last_value: float | None
    value: list[float | None] = field(default_factory=list)


@dataclass
class LinesData:
    """Several series as lines on one time axis (seconds), with the alert's limit line
    where the limit is the same for every series (a threshold)."""

    t: list[float] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    limit: list[float | None] = field(default_factory=list)
    series_count: int = 0  # the alert's series, of which these are the top
    truncated: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "lines": [
                {
                    "id": line.series_id,
                    "name": line.name,
                    "labels": line.labels,
                    "last_value": line.last_value,
                    "value": line.value,
                }
                for line in self.lines
            ],
            "limit": self.limit,
            "series_count": self.series_count,
            "truncated": self.truncated,
        }


def align_lines(
    lines: Sequence[Line], points: Mapping[str, Sequence[tuple[float, float | None]]]
) -> list[float]:
    """The union of the lines' times, oldest first, with each line's ``value`` set on it
    (``None`` where a line has no point). ``points`` holds each line's (t, value) pairs
    by series id, in any order."""
    times = sorted({t for pairs in points.values() for t, _ in pairs})
    where = {t: i for i, t in enumerate(times)}
    for line in lines:
        line.value = [None] * len(times)
        for t, v in points.get(line.series_id, ()):
            line.value[where[t]] = v
    return times


def finite_float(value: Decimal | None) -> float | None:
    return float(value) if value is not None and value.is_finite() else None


class Evaluation(Protocol):
    """What a chart reads of an alert_history row."""

    @property
    def baseline_value(self) -> Decimal | None: ...
    @property
    def state_from(self) -> str: ...
    @property
    def state_to(self) -> str: ...
    @property
    def notified(self) -> bool: ...
    @property
    def reason(self) -> str: ...


def mark_evaluations(
    out: ChartData, rule: AlertRule, evaluations: Sequence[Evaluation | None]
) -> None:
    """Fills ``out``'s limit line, baseline, reasons and markers from the evaluation of
    each of its points (``None``: a run the alert did not evaluate, which keeps its
    reason and marks nothing). ``out.value`` is already set, aligned with them."""
    n = len(evaluations)
    fixed = rule.condition_type == "threshold"
    limit = finite_float(rule.threshold_value) if fixed else None
    out.limit, out.baseline = [limit] * n, [None] * n
    out.recovery = [finite_float(recovery_value(rule, None))] * n
    out.fired, out.suppressed, out.resolved = [None] * n, [None] * n, [None] * n
    if len(out.reason) != n:
        out.reason = [""] * n
    for i, h in enumerate(evaluations):
        if h is None:
            continue
        out.reason[i] = h.reason
        if not fixed:
            out.limit[i] = finite_float(limit_value(rule, h.baseline_value))
            out.baseline[i] = finite_float(h.baseline_value)
            out.recovery[i] = finite_float(recovery_value(rule, h.baseline_value))
        kind = event_kind(h.state_from, h.state_to, h.notified, h.reason)
        if kind is not None:
            getattr(out, kind)[i] = out.value[i]


def backtest_chart(rule: AlertRule, decisions: Sequence[tuple[datetime, Decision]]) -> ChartData:
    """What the editor's preview draws: each backtested run's value, the limit the draft
    compares it with, and where the draft would have fired, held back or resolved."""
    out = ChartData()
    for at, d in decisions:
        out.t.append(epoch_ms(at) / 1000)
        value = finite_float(d.value)
        out.value.append(value)
        out.limit.append(finite_float(limit_value(rule, d.baseline_value)))
        out.baseline.append(finite_float(d.baseline_value))
        out.recovery.append(finite_float(recovery_value(rule, d.baseline_value)))
        out.fired.append(value if d.notify == "trigger" else None)
        out.resolved.append(value if d.notify == "resolve" else None)
        out.suppressed.append(value if d.suppressed else None)
        out.reason.append(d.reason)
    return out
