"""Which series an alert watches: label matchers such as ``service!=batch`` (the
``series_filter``; docs/alerts.md, Series). Part of the core, pure.

``label=value``, ``label!=value``, ``label=~regex``, ``label!~regex``, as Prometheus and
Alertmanager write them; regular expressions match the whole value. A label a series
does not have reads as ``""``. A series is watched when every matcher holds.

A regular expression is a tenant's input run on a shared worker for every series of every
run, so it runs on RE2 (linear time, no backtracking, as Prometheus does): a pattern such
as ``(a+)+$`` cannot stall the worker, and what RE2 does not support (backreferences,
lookaround) is refused when the alert is saved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import re2  # type: ignore[import-untyped]

MatchOp = Literal["=", "!=", "=~", "!~"]
_MATCHER = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*", re.DOTALL)
MAX_MATCHERS = 20


class MatcherError(ValueError):
    """A matcher that cannot be read; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: MatchOp
    value: str

    def holds(self, labels: Mapping[str, str]) -> bool:
        given = labels.get(self.label, "")
        if self.op == "=":
            return given == self.value
        if self.op == "!=":
            return given != self.value
        found = _regex(self.value).fullmatch(given) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"


def parse_matcher(text: str) -> Matcher:
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise MatcherError(
            f"expected a label matcher such as service!=batch (operators =, !=, =~, !~), "
            f"got {text!r}"
        )
    label, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if op in ("=~", "!~"):
        try:
            _regex(value)
        except re2.error as exc:
            why = exc.args[0].decode(errors="replace") if exc.args else "invalid"
            raise MatcherError(f"{text!r}: the regular expression does not parse ({why})") from None
    return Matcher(label, op, value)  # type: ignore[arg-type]


def parse_filter(texts: Sequence[str]) -> list[Matcher]:
    if len(texts) > MAX_MATCHERS:
        raise MatcherError(f"expected at most {MAX_MATCHERS} matchers, got {len(texts)}")
    return [parse_matcher(t) for t in texts]


def watches(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.holds(labels) for m in matchers)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the user's error, not a log line


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)
