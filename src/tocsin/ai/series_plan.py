"""Alerts per series in a plan: "errors per service", "for each country", "except batch",
"only for api" (docs/chat.md).

The offline parser takes these phrases out of the message (:func:`take_series`) and,
once it knows the metric, turns them into the proposal's ``per`` and ``series_filter``
with the metric's own label names (:func:`series_fields`). Both engines' proposals are
then checked against the metric (:func:`check_series`): a metric without series that is
asked for one alert per something is a question, naming the command that splits it,
never a silent single-valued alert.
"""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection

from tocsin.ai.proposals import Clarify, Cue
from tocsin.ai.worktext import Text
from tocsin.alerts.matchers import MatcherError, parse_matcher
from tocsin.metrics.model import Metric, observe_series
from tocsin.metrics.store import MetricStore

_I = re.IGNORECASE
# Words after "per", "by", "each" that name no label: amounts, time, destinations.
_NOT_A_LABEL = (
    r"(?:more|less|fewer|at|over|under|above|below|than|the|a|an|one|half|far|much|lots?|"
    r"email|e-mail|mail|sms|text|phone|slack|webhook|pagerduty|now|then|default|itself|"
    r"seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|runs?|checks?|"
    r"times?|evaluations?|percent|cent|pct|if|when|whenever|while|and|or)"
)
_LABEL = rf"(?!{_NOT_A_LABEL}\b)(?P<label>[A-Za-z_][\w.-]*)"
PER = re.compile(
    r"\b(?:per|for\s+(?:each|every)|each|every|by|broken\s+down\s+by|grouped\s+by|split\s+by|"
    rf"across\s+(?:all\s+)?(?:the\s+)?|for\s+all(?:\s+the)?)\s+{_LABEL}\b",
    _I,
)
# A label value as a user writes it: a word ("batch", "eu-west-1"), quoted words, or
# label=value.
_STOP = (
    r"(?:when|if|whenever|once|while|on|in|via|by|to|at|during|after|before|for|with|from|"
    r"more|less|above|below|over|under|exceeds?|is|are|goes|gets|alert|notify|tell|let|"
    r"ping|page|email|send|me|us|it|its|the|a|an|and|or|nor|\d)"
)
_VALUE = rf"(?:\"[^\"]+\"|'[^']+'|(?!{_STOP}\b)[A-Za-z0-9_][\w.:/=-]*)"
_LIST = rf"{_VALUE}(?:\s*(?:,|\band\b|\bor\b|\bnor\b)\s*{_VALUE})*"
_VALUES = rf"(?P<values>{_LIST})"
EXCEPT = re.compile(
    r"\b(?:except(?:\s+for)?|excluding|but\s+not(?:\s+for)?|other\s+than|apart\s+from|"
    rf"leaving\s+out|ignoring)\s+(?:the\s+)?{_VALUES}",
    _I,
)
ONLY = re.compile(
    rf"\b(?:(?:only|just)\s+for\s+(?:the\s+)?{_VALUES}|for\s+(?:the\s+)?(?P<after>{_LIST})"
    r"\s+only\b)",
    _I,
)
_SPLIT = re.compile(r"\s*(?:,|\band\b|\bor\b|\bnor\b)\s*", _I)


class MetricSeries(NamedTuple):
    """What tells a metric's series apart: its labels (none: one value per run), and
    whether it is pushed (then labelled pushes split it too)."""

    labels: Sequence[str]
    push: bool


# A metric's series by its name, as the offline parser asks for them.
SeriesOf = Callable[[str], MetricSeries]


@dataclass
class SeriesAsk:
    """What the message says about series: labels to split by ("per service"), values
    to leave out ("except batch") or to keep ("only for api"), as written."""

    per: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    only: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.per or self.excluded or self.only)


def _values(text: str) -> list[str]:
    return [v.strip("\"'") for v in _SPLIT.split(text.strip()) if v.strip("\"'")]


def take_series(text: Text) -> SeriesAsk:
    """Take the series phrases out of ``text`` (blanked, as every understood part is)."""
    ask = SeriesAsk()
    while (m := text.take(PER)) is not None:
        ask.per.append(m.group("label"))
        ask.said.append(text.orig(m))
    while (m := text.take(EXCEPT)) is not None:
        ask.excluded += _values(m.group("values"))
        ask.said.append(text.orig(m))
    while (m := text.take(ONLY)) is not None:
        ask.only += _values(m.group("values") or m.group("after"))
        ask.said.append(text.orig(m))
    return ask


def _singular(word: str) -> str:
    low = word.lower()
    if low.endswith("ies") and len(low) > 4:
        return low[:-3] + "y"
    if low.endswith("s") and not low.endswith("ss") and len(low) > 3:
        return low[:-1]
    return low


def label_named(word: str, labels: Sequence[str]) -> str | None:
    """The label ``word`` names ("services" is service), or None."""
    for label in labels:
        if word.lower() == label.lower() or _singular(word) in (label.lower(), _singular(label)):
            return label
    return None


def series_cues(ask: SeriesAsk, handled: bool) -> list[Cue]:
    return [Cue("series", said, handled) for said in ask.said]


def series_fields(
    metric: str, labels: Sequence[str], ask: SeriesAsk, *, push: bool = False
) -> dict[str, Any] | Clarify:
    """The proposal's ``per`` and ``series_filter`` for what ``ask`` says of ``metric``
    (whose series have ``labels``), or the question to ask instead."""
    if not ask:
        return {}
    if not labels:
        word = ask.per[0] if ask.per else None
        return add_series_question(metric, _singular(word) if word else None, push=push,
                                   values=ask.excluded + ask.only)  # fmt: skip
    matchers: list[str] = []
    for values, op, many in ((ask.excluded, "!=", None), (ask.only, "=", "=~")):
        by_label: dict[str, list[str]] = {}
        for value in values:
            label, bare = _qualified(value, labels)
            if label is None:
                return Clarify(
                    f'Which label is "{bare}": {_either(labels)}? e.g. "except {labels[0]}={bare}"',
                    "create_alert",
                )
            by_label.setdefault(label, []).append(bare)
        for label, found in by_label.items():
            if op == "!=" or len(found) == 1:
                matchers += [f"{label}{op}{v}" for v in found]
            else:
                matchers.append(f"{label}{many}" + "|".join(re.escape(v) for v in found))
    return {"per": list(ask.per), "series_filter": matchers}


def _qualified(value: str, labels: Sequence[str]) -> tuple[str | None, str]:
    """(label, value) of "service=batch", or of "batch" when the metric has one label."""
    name, sep, rest = value.partition("=")
    if sep and rest:
        return label_named(name, labels), rest
    return (labels[0] if len(labels) == 1 else None), value


def _either(labels: Sequence[str]) -> str:
    quoted = [f'"{label}"' for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def add_series_question(
    metric: str, label: str | None, *, push: bool = False, values: Sequence[str] = ()
) -> Clarify:
    """A metric with one value per run, asked for one alert per something: the command
    that splits it, not a single-valued alert."""
    column = label or "COLUMN"
    if label:
        what = f"one value per run, not one per {label}. Do you want to split it by {label}?"
        then = f"and the alert watches every {label}"
    else:
        shown = ", ".join(f'"{v}"' for v in values) or "that"
        what = (
            "one value per run, no series to leave out or keep. Do you want to split it, "
            f"by the column that holds {shown}?"
        )
        then = "and the alert watches the series you name"
    command = f"tocsin metric update {shlex.quote(metric)} --series-by {shlex.quote(column)}"
    how = f"its result must then be a table with a {column} column"
    if push:
        how += (
            f"; or push each value with its labels: `tocsin metric run {shlex.quote(metric)} "
            f"--value 6 --label {column}=...`"
        )
    return Clarify(
        f'"{metric}" has {what} Add `--series-by {column}` to the metric first: `{command}` '
        f'({how}), then ask again, {then}. Or alert on the one value: "Notify me if {metric} '
        f'> 5".',
        "create_alert",
    )


def check_series(
    metric: Metric, labels: Sequence[str], per: Sequence[str], series_filter: Sequence[str]
) -> Clarify | None:
    """A proposal's series against its metric (both engines): a question when the metric
    cannot be watched as asked."""
    push = metric.source.get("type") == "push"
    named = []
    for text in series_filter:
        try:
            named.append(parse_matcher(text).label)
        except MatcherError:
            continue  # AlertDefinition says what is wrong with it
    if not labels:
        if per or series_filter:
            word = per[0] if per else (named[0] if named else None)
            return add_series_question(metric.name, _singular(word) if word else None, push=push)
        return None
    for word in per:
        if label_named(word, labels) is None:
            all_of = " ".join(f"--series-by {shlex.quote(x)}" for x in [*labels, _singular(word)])
            return Clarify(
                f'"{metric.name}" is split by {", ".join(labels)}, not by {word}. To alert for '
                f"each {_singular(word)}, add it: `tocsin metric update "
                f"{shlex.quote(metric.name)} {all_of}`.",
                "create_alert",
            )
    for label in named:
        if label not in labels:
            return Clarify(
                f'"{metric.name}" has no label "{label}": its series are told apart by '
                f"{', '.join(labels)}.",
                "create_alert",
            )
    return None


def series_of(conn: Connection, org_id: uuid.UUID) -> SeriesOf:
    """This org's metrics' series, by name (read when asked)."""
    store = MetricStore(conn, org_id)

    def of(name: str) -> MetricSeries:
        metric = store.find(name)
        if metric is None:
            return MetricSeries((), False)
        return MetricSeries(metric_labels(conn, metric), metric.source.get("type") == "push")

    return of


def metric_labels(conn: Connection, metric: Metric, runs: int = 5) -> list[str]:
    """The labels that tell the metric's series apart: its ``series_by``, or those its
    latest runs were pushed with."""
    if metric.selector is not None and metric.selector.series_by:
        return list(metric.selector.series_by)
    found: dict[str, None] = {}
    for execution in MetricStore(conn, metric.org_id).executions(metric.id, limit=runs):
        if execution.status == "completed" and execution.value is None:
            for series in observe_series(execution, metric.selector).series:
                found.update(dict.fromkeys(series.labels))
    return list(found)


def watch_words(labels: Sequence[str], series_filter: Sequence[str]) -> str:
    """ "for each service", "for each service except batch", "only for service=api"."""
    if not labels:
        return ""
    each = "for each " + " and ".join(labels)
    if not series_filter:
        return each
    parsed = [parse_matcher(t) for t in series_filter]
    if len(labels) == 1 and all(m.op == "!=" for m in parsed):
        return f"{each} except " + " and ".join(m.value for m in parsed)
    if len(parsed) == 1 and parsed[0].op == "=":
        return f"only for {parsed[0]}"
    return f"{each} matching " + ", ".join(str(m) for m in parsed)
