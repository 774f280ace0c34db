"""What an alert's condition says of one reading (docs/alerts.md): a breach, a clear
value, or why it cannot tell (no data, an error, no baseline yet). Part of the decision
core (``decision.py`` turns an assessment into a state change), pure like it.

* **Zero baseline** in percent mode: no change if the value is 0, otherwise an infinite
  change of the value's sign (``Decimal('Infinity')``), which orders and compares sanely.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from functools import lru_cache
from typing import Literal, NamedTuple, Protocol

from tocsin.metrics.extract import Extracted
from tocsin.numbers import format_decimal

# The one declaration of Tocsin's operators and conditions (models, the API's schemas and
# the UI import these, through ``decision``).
ComparisonOp = Literal["gt", "gte", "lt", "lte", "eq", "ne"]
ConditionType = Literal["threshold", "relative_change"]
ChangeMode = Literal["percent", "absolute"]

# Enough digits that value - baseline is exact for any realistic metric; only the percent
# division can round, far below anything a threshold can tell apart.
_CTX = Context(prec=60, Emax=MAX_EMAX, Emin=MIN_EMIN)

# op -> (symbol, the op that holds exactly when this one does not, orderings where it holds)
_OPS: dict[ComparisonOp, tuple[str, ComparisonOp, tuple[int, ...]]] = {
    "gt": (">", "lte", (1,)),
    "gte": (">=", "lt", (0, 1)),
    "lt": ("<", "gte", (-1,)),
    "lte": ("<=", "gt", (-1, 0)),
    "eq": ("==", "ne", (0,)),
    "ne": ("!=", "eq", (-1, 1)),
}
# The one vocabulary of operator symbols: models, channels, the CLI and the UI read it.
OP_SYMBOLS: dict[str, str] = {op: symbol for op, (symbol, _, _) in _OPS.items()}


class Condition(Protocol):
    """What of an alert rule its condition reads (``decision.AlertRule`` has it)."""

    @property
    def condition_type(self) -> ConditionType: ...

    @property
    def comparison_op(self) -> ComparisonOp: ...

    @property
    def threshold_value(self) -> Decimal: ...

    @property
    def change_mode(self) -> ChangeMode: ...

    @property
    def lookback(self) -> int: ...


class Assessment(NamedTuple):
    """The condition checked on one observation, before any state logic."""

    outcome: Literal["breach", "clear", "no_data", "error"]
    text: str
    value: Decimal | None = None
    baseline_value: Decimal | None = None
    change: Decimal | None = None
    # Unreadable because this run's value is: a broken source, which the handling rules
    # and failure notices are about. Not a warm-up without a baseline yet, nor a bad
    # earlier run (told of when it happened).
    current_failed: bool = True


def compare(value: Decimal, op: ComparisonOp, threshold: Decimal) -> bool:
    """``value <op> threshold``; NaN never satisfies anything but ``ne``."""
    if value.is_nan() or threshold.is_nan():
        return op == "ne"
    ordering = (value > threshold) - (value < threshold)
    return ordering in _OPS[op][2]


def describe_condition(rule: Condition) -> str:
    """Short form of the condition: ``> 5``, ``change < -20%``, ``change >= 50 (absolute)``."""
    symbol = _OPS[rule.comparison_op][0]
    threshold = shown(rule.threshold_value)
    if rule.condition_type == "threshold":
        return f"{symbol} {threshold}"
    notes = ["absolute"] if rule.change_mode == "absolute" else []
    if rule.lookback > 1:
        notes.append(f"vs {rule.lookback} runs back")
    unit = "%" if rule.change_mode == "percent" else ""
    suffix = f" ({', '.join(notes)})" if notes else ""
    return f"change {symbol} {threshold}{unit}{suffix}"


def assess(rule: Condition, extracted: Extracted, baseline_reading: Extracted | None) -> Assessment:
    """The condition checked on this run's reading (and, for a relative change, the
    reading ``lookback`` runs back), before any state logic."""
    current = _readable(extracted, "")
    if isinstance(current, Assessment):
        return current
    if rule.condition_type == "threshold":
        held = compare(current, rule.comparison_op, rule.threshold_value)
        text = _comparison_text(shown(current), rule, held, "")
        return Assessment("breach" if held else "clear", text, value=current)
    if baseline_reading is None:
        runs = max(rule.lookback, 1)
        return Assessment(
            "no_data",
            f"no baseline yet: needs {runs} earlier completed run{'s' if runs != 1 else ''}",
            value=current,
            current_failed=False,
        )
    baseline = _readable(baseline_reading, "baseline: ")
    if isinstance(baseline, Assessment):
        return baseline._replace(value=current, current_failed=False)
    change, change_text = change_between(rule.change_mode, baseline, current)
    held = compare(change, rule.comparison_op, rule.threshold_value)
    origin = f"from {format_decimal(baseline)} to {format_decimal(current)}"
    if change.is_infinite():
        origin += ": infinite change"
    if rule.change_mode == "absolute":
        origin = f"absolute, {origin}"
    return Assessment(
        "breach" if held else "clear",
        _comparison_text(f"change {change_text}", rule, held, f" ({origin})"),
        value=current,
        baseline_value=baseline,
        change=change,
    )


def _readable(extracted: Extracted, prefix: str) -> Decimal | Assessment:
    if extracted.status == "value" and extracted.value is not None:
        if extracted.value.is_finite():
            return extracted.value
        return Assessment("error", f"{prefix}value {extracted.value} is not a finite number")
    if extracted.status == "no_data":
        return Assessment("no_data", prefix + (extracted.reason or "no data"))
    return Assessment("error", prefix + (extracted.reason or "the value could not be read"))


def change_between(mode: ChangeMode, baseline: Decimal, value: Decimal) -> tuple[Decimal, str]:
    delta = _CTX.subtract(value, baseline)
    if mode == "absolute":
        return delta, _signed(delta, "")
    if baseline.is_zero():
        change = Decimal(0) if delta.is_zero() else Decimal("Infinity").copy_sign(delta)
    else:
        change = _CTX.divide(_CTX.multiply(delta, Decimal(100)), abs(baseline))
    return change, _signed(change, "%")


def _signed(change: Decimal, unit: str) -> str:
    text = format_decimal(change, places=4 if unit else None)
    if change > 0:
        text = "+" + text
    return text + unit


def _comparison_text(left: str, rule: Condition, held: bool, tail: str) -> str:
    op = rule.comparison_op if held else _OPS[rule.comparison_op][1]
    unit = "%" if rule.condition_type == "relative_change" and rule.change_mode == "percent" else ""
    text = f"{left} {_OPS[op][0]} {shown(rule.threshold_value)}{unit}{tail}"
    return text if held else f"{text}: condition not met"


# Sized for every threshold of a large deployment: evaluations cycle through the same
# alerts, and an LRU smaller than that cycle evicts each entry just before it is needed.
@lru_cache(maxsize=16384)
def _shown_finite(value: Decimal) -> str:
    return format_decimal(value)


def shown(value: Decimal) -> str:
    """``format_decimal``, remembered: an evaluation shows the same value, and often the
    same thresholds, for every alert. Equal decimals show alike (the form is normalised);
    a signalling NaN cannot be hashed, so only finite values are remembered."""
    return _shown_finite(value) if value.is_finite() else format_decimal(value)
