"""The state writes of decided batches: each series' new status (with its cooldown claim),
the series first seen (inserted), and each alert row's summary of its series.

Column by column, like the rest of ``recording.BatchWriter``'s writes: one statement per
table on ``flush``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts import decision as core
from tocsin.alerts.batch import BatchAlert, EvaluationBatch, claim_cutoff, summary
from tocsin.db.bulk import insert_columns, update_columns
from tocsin.db.schema import alert_series, alerts

# A claim's cutoff for series that claim nothing: every stored time is before it.
_NO_CLAIM = datetime(9999, 12, 31, tzinfo=UTC)
_STATUS = core.AlertStatus._fields


class SeriesStates:
    def __init__(self) -> None:
        self._updates: dict[str, list[Any]] = {}
        self._inserts: dict[str, list[Any]] = {}
        self._alerts: dict[str, list[Any]] = {}

    def add(
        self,
        org_id: uuid.UUID,
        execution_id: uuid.UUID,
        batch: EvaluationBatch,
        decisions: Sequence[core.Decision],
        series_ids: Sequence[uuid.UUID],
        now: datetime,
    ) -> None:
        """Gather the states of a decided batch; ``series_ids`` names each item's series
        (drawn by the caller for those first seen). An older run's decision (not
        ``applied``) changes nothing."""
        at, items = batch.at, batch.alerts
        old = [i for i, d in enumerate(decisions) if d.applied and items[i].series_id is not None]
        new = [i for i, d in enumerate(decisions) if d.applied and items[i].series_id is None]
        if old:
            columns = self._columns(at, items, decisions, old, now)
            columns["id"] = [items[i].series_id for i in old]
            cutoffs = (claim_cutoff(items[i], decisions[i], at) for i in old)
            columns["claim_cutoff"] = [_NO_CLAIM if c is None else c for c in cutoffs]
            _extend(self._updates, columns)
        if new:
            columns = self._columns(at, items, decisions, new, now)
            columns["id"] = [series_ids[i] for i in new]
            columns["org_id"] = [org_id] * len(new)
            columns["alert_id"] = [items[i].id for i in new]
            columns["series_key"] = [items[i].series_key for i in new]
            columns["labels"] = [items[i].labels for i in new]
            columns["created_at"] = [now] * len(new)
            _extend(self._inserts, columns)
        self._add_summaries(execution_id, batch, decisions, now)

    @staticmethod
    def _columns(
        at: datetime,
        items: Sequence[BatchAlert],
        decisions: Sequence[core.Decision],
        chosen: Sequence[int],
        now: datetime,
    ) -> dict[str, list[Any]]:
        # zip(*...) transposes the statuses in C: a fraction of a dict per row.
        statuses = zip(*(decisions[i].new_status for i in chosen), strict=True)
        columns: dict[str, list[Any]] = dict(zip(_STATUS, map(list, statuses), strict=True))
        columns["last_value"] = [decisions[i].value for i in chosen]
        columns["last_seen_at"] = [
            at if items[i].current is not None else items[i].seen_at for i in chosen
        ]
        columns["updated_at"] = [now] * len(chosen)
        return columns

    def _add_summaries(
        self,
        execution_id: uuid.UUID,
        batch: EvaluationBatch,
        decisions: Sequence[core.Decision],
        now: datetime,
    ) -> None:
        items = batch.alerts
        ids = [item.id for item in items]
        if len(set(ids)) == len(ids):
            # One series per alert (a metric without series): each alert's summary is
            # its series' status, column by column.
            chosen = [i for i, d in enumerate(decisions) if d.applied]
            rows = [(ids[i], decisions[i].new_status, decisions[i].value) for i in chosen]
        else:
            rows = []
            pairs = zip(items, decisions, strict=True)
            for alert_id, group in groupby(pairs, key=lambda pair: pair[0].id):
                members = list(group)
                if not any(d.applied for _, d in members):
                    continue
                statuses = [d.new_status if d.applied else a.status for a, d in members]
                worst, status = summary(statuses)
                rows.append((alert_id, status, members[worst][1].value))
        if not rows:
            return
        alert_ids, summaries, values = zip(*rows, strict=True)
        columns: dict[str, Sequence[Any]] = {"id": alert_ids}
        columns.update(zip(_STATUS, zip(*summaries, strict=True), strict=True))
        del columns["missing_runs"]  # the alert row has none
        columns["last_value"] = values
        columns["last_execution_id"] = [execution_id] * len(rows)
        columns["updated_at"] = [now] * len(rows)
        _extend(self._alerts, columns)

    def flush(self, conn: Connection) -> None:
        updates, inserts, summaries = self._updates, self._inserts, self._alerts
        self._updates, self._inserts, self._alerts = {}, {}, {}
        insert_columns(conn, alert_series, inserts)
        if updates.get("id"):
            # The claim: the UPDATE carries its condition. The rows are locked since
            # they were read (through their alert's), and each decision allowed its
            # trigger by the same cutoff (``batch.decide``), so it holds for every row;
            # a row it skipped was changed behind the lock.
            changed = update_columns(
                conn,
                alert_series,
                "id",
                updates,
                unset_or_not_after=("last_triggered_at", "claim_cutoff"),
            )
            if changed != len(updates["id"]):
                raise RuntimeError(
                    f"{len(updates['id']) - changed} series row(s) changed during their "
                    "evaluation's lock"
                )
        if summaries:
            update_columns(conn, alerts, "id", summaries)


def _extend(into: dict[str, list[Any]], columns: Mapping[str, Sequence[Any]]) -> None:
    for name, values in columns.items():
        into.setdefault(name, []).extend(values)
