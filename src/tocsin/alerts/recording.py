"""Writing decided batches: the alert rows' new state (with the cooldown claim), one
``alert_history`` row per alert, and the outbox rows for what notifies.

Column by column: each written column comes from one pass over the decisions (``zip(*...)``
transposes in C), which costs a fraction of a dict per row. The columns stay inside
:class:`BatchWriter`; callers hand it a batch and its decisions.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts import decision as core
from tocsin.alerts.batch import EvaluationBatch
from tocsin.alerts.notices import FAILURE_KINDS, fold_failure_notices
from tocsin.alerts.outbox import delivery_rows
from tocsin.alerts.payload import PayloadMaker
from tocsin.alerts.series_states import SeriesStates
from tocsin.clock import utcnow
from tocsin.db.bulk import insert_columns, insert_rows
from tocsin.db.schema import alert_history, notification_deliveries
from tocsin.ids import fresh_uuids, uuid_stream
from tocsin.settings import Settings
from tocsin.telemetry import record_evaluation, record_failure_notice, suppression_category


@dataclass(slots=True)
class Evaluated:
    """One alert's evaluation, as recorded."""

    alert_id: uuid.UUID
    delivery_ids: list[uuid.UUID]
    decision: core.Decision
    # The batch's history rows, column by column, and this alert's row among them.
    _history: Mapping[str, Sequence[Any]]
    _row: int

    @property
    def history(self) -> dict[str, Any]:
        """The ``alert_history`` row written for this evaluation."""
        return {name: values[self._row] for name, values in self._history.items()}


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run a batch was decided for, as the rows written for it name it."""

    metric_id: uuid.UUID
    org_id: uuid.UUID
    metric_name: str
    execution_id: uuid.UUID
    settings: Settings
    # Deliveries are born claimed by the caller until then (``outbox.delivery_rows``).
    lease_until: datetime | None = None


@dataclass(frozen=True)
class _Target:
    """The alert a notification is about (what the payload and outbox rows need)."""

    id: uuid.UUID
    org_id: uuid.UUID
    metric_id: uuid.UUID
    name: str
    action_config: Any


class BatchWriter:
    """What evaluations write, gathered column by column and written with one statement
    per table on ``flush``: the runs a group commit finishes together write their series
    states, alert summaries, history rows and outbox rows once for the group, not once
    per run.

    Only evaluations of different metrics may share a writer before a flush: the next
    evaluation of a metric reads the states the previous one wrote."""

    def __init__(self) -> None:
        self._states = SeriesStates()
        self._history: dict[str, list[Any]] = {}
        self._outbox: list[dict[str, Any]] = []

    def add(
        self, run: RunContext, batch: EvaluationBatch, decisions: Sequence[core.Decision]
    ) -> tuple[list[Evaluated], list[dict[str, Any]]]:
        """Gather a decided batch (its alert rows locked by the caller); return it as it
        will be recorded, and the outbox rows it adds."""
        at, members = batch.at, batch.alerts
        ids = [a.id for a in members]
        now = utcnow()
        n = len(ids)
        column = dict(zip(core.Decision._fields, zip(*decisions, strict=True), strict=True))
        # The series first seen in this run get their ids here: history rows name them.
        given = [a.series_id for a in members]
        fresh = fresh_uuids(n) if None in given else iter(())
        series_ids = [known if known is not None else next(fresh) for known in given]
        self._states.add(run.org_id, run.execution_id, batch, decisions, series_ids, now)

        notified = [kind is not None for kind in column["notify"]]
        # Most evaluations notify few alerts: what follows reads only those.
        notifying = [i for i, flag in enumerate(notified) if flag]
        folded = fold_failure_notices(members, decisions, notifying)
        history: dict[str, Sequence[Any]] = {
            "id": list(fresh_uuids(n)),
            "alert_id": ids,
            "org_id": [run.org_id] * n,
            "execution_id": [run.execution_id] * n,
            "evaluated_at": [at] * n,
            "value": column["value"],
            "baseline_value": column["baseline_value"],
            "triggered": column["triggered"],
            "state_from": column["state_from"],
            "state_to": column["state_to"],
            "notified": notified,
            "reason": column["reason"],
            "series_id": series_ids,
            # The one series of a metric without series stores no labels (NULL reads
            # back as {} for a row with a series): a JSON value less to encode per row.
            "labels": [a.labels or None for a in members],
        }
        _extend(self._history, history)
        outbox: list[dict[str, Any]] = []
        decoded: dict[str, Any] = {}
        delivery_ids = uuid_stream()
        payload_for = PayloadMaker(run.org_id, run.metric_id, run.metric_name, at, run.settings)
        out = [Evaluated(ids[i], [], decisions[i], history, i) for i in range(n)]
        for i in notifying:
            if i in folded.told_elsewhere:
                continue
            alert, d = members[i], decisions[i]
            kind = d.notify
            assert kind is not None
            labels = alert.labels
            series_id: uuid.UUID | None = series_ids[i]
            if i in folded.stands_for:
                # One notice for the alert: about no one series of it.
                d = d._replace(reason=f"{d.reason} ({folded.stands_for[i]} series)")
                labels, series_id = {}, None
            actions = decoded.get(alert.actions_json)
            if actions is None:
                # Alerts of one metric often share their actions: decoded once, and then
                # the outbox's bulk insert encodes the shared object once too. Nothing
                # downstream mutates an action (redaction copies).
                actions = decoded[alert.actions_json] = json.loads(alert.actions_json)
            target = _Target(alert.id, run.org_id, run.metric_id, alert.name, actions)
            condition = core.describe_condition(alert.rule)
            payload = payload_for(kind, str(alert.id), alert.name, d, condition, labels)
            rows = delivery_rows(
                target,
                kind,
                payload,
                history["id"][i],
                now,
                lease_until=run.lease_until,
                new_id=delivery_ids.__next__,
            )
            for row in rows:
                row["series_id"], row["labels"] = series_id, labels or None
            outbox.extend(rows)
            out[i].delivery_ids = [r["id"] for r in rows]
        self._outbox.extend(outbox)
        notices = Counter(
            kind
            for i in notifying
            if (kind := decisions[i].notify) in FAILURE_KINDS and i not in folded.told_elsewhere
        )
        for kind, count in notices.items():
            record_failure_notice(kind, count=count)
        categories = map(_category, column["suppressed"])
        tally = Counter(zip(column["state_to"], notified, categories, strict=True))
        for (state, sent, suppressed), count in tally.items():
            record_evaluation(state, sent, suppressed, count=count)
        return out, outbox

    def flush(self, conn: Connection) -> None:
        history, outbox = self._history, self._outbox
        self._history, self._outbox = {}, []
        self._states.flush(conn)
        insert_columns(conn, alert_history, history)
        insert_rows(conn, notification_deliveries, outbox)


def _extend(into: dict[str, list[Any]], columns: Mapping[str, Sequence[Any]]) -> None:
    for name, values in columns.items():
        into.setdefault(name, []).extend(values)


def _category(suppressed: str | None) -> str | None:
    return None if suppressed is None else suppression_category(suppressed)
