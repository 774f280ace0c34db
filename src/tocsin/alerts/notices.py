"""Failure notices of one alert's series folded into one (docs/alerts.md, "When data
breaks"). Part of the decision core: pure.

A run that fails as a whole (the query errors, the endpoint answers 500) is the same
failure for every series the alert watches; fifty series must not page fifty times. As
Grafana raises one ``DatasourceError`` per rule, the series whose notice is due on that
one failure send one notice for the alert, which says how many series it stands for. The
recoveries of one run fold the same way. A failure of one series alone (its cell is no
number, its rows are stale) keeps a notice of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from tocsin.alerts.batch import BatchAlert
from tocsin.alerts.decision import Decision

FAILURE_KINDS = frozenset({"no_data", "error", "recovered"})


class Folded(NamedTuple):
    """Of a batch's notifying items: the ones told by another item's notice, and for each
    notice that stands for several series, how many."""

    told_elsewhere: frozenset[int]
    stands_for: dict[int, int]


def fold_failure_notices(
    members: Sequence[BatchAlert], decisions: Sequence[Decision], notifying: Sequence[int]
) -> Folded:
    """Group the notifying items' failure notices by alert and kind (and, for a failure,
    the one run-wide reading it came from: the batch shares that object among the
    series); the first of a group of several sends for all."""
    groups: dict[tuple[uuid.UUID, str, int], list[int]] = {}
    for i in notifying:
        kind = decisions[i].notify
        if kind not in FAILURE_KINDS:
            continue
        assert kind is not None
        # Series failing alone have readings of their own: only a shared one folds.
        source = 0 if kind == "recovered" else id(members[i].current)
        groups.setdefault((members[i].id, kind, source), []).append(i)
    told: set[int] = set()
    stands_for: dict[int, int] = {}
    for group in groups.values():
        if len(group) > 1:
            stands_for[group[0]] = len(group)
            told.update(group[1:])
    return Folded(frozenset(told), stands_for)
