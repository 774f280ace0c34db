"""What a recorded run read, in words, as its alerts saw it (``metric show`` and the
metric page): a value, how many series, or why none (a failure, stale data, silence)."""

from __future__ import annotations

from tocsin.metrics.model import Execution, Metric, observe_series
from tocsin.metrics.series import describe_labels
from tocsin.numbers import format_decimal


def run_words(run: Execution, m: Metric) -> str:
    """What one run read, as its alerts saw it: a value, how many series, or why none (a
    failure, stale data, silence)."""
    found = observe_series(run, m.selector)
    if found.failure is not None:
        return f"no value: {found.failure.reason}"
    unread = [s for s in found.series if s.extracted.status != "value"]
    if len(found.series) == 1 and not found.series[0].labels:
        only = found.series[0].extracted
        return f"no value: {only.reason}" if only.value is None else format_decimal(only.value)
    words = f"{len(found.series)} series"
    if unread:
        first = unread[0]
        words += f", {len(unread)} without a value ({describe_labels(first.labels)}: "
        words += f"{first.extracted.reason})"
    return words
