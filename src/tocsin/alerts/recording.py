"""Recording a batch of decisions: the alert rows' new state (with the cooldown claim),
one ``alert_history`` row per alert, and the outbox rows for what notifies.

Column by column: each written column comes from one pass over the decisions (``zip(*...)``
transposes in C), which costs a fraction of a dict per row.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts import decision as core
from tocsin.alerts.outbox import delivery_rows
from tocsin.alerts.payload import PayloadMaker
from tocsin.alerts.timing import cooldown_cutoff
from tocsin.clock import utcnow
from tocsin.db.bulk import insert_columns, insert_rows, update_columns
from tocsin.db.schema import alert_history, alerts, notification_deliveries
from tocsin.ids import fresh_uuids, uuid_stream
from tocsin.metrics.model import Execution
from tocsin.settings import Settings
from tocsin.telemetry import record_evaluation, suppression_category


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


@dataclass(frozen=True)
class _Target:
    """The alert a notification is about (what the payload and outbox rows need)."""

    id: uuid.UUID
    org_id: uuid.UUID
    metric_id: uuid.UUID
    name: str
    action_config: Any


# A claim's cutoff for alerts that claim nothing: every stored time is before it.
_NO_CLAIM = datetime(9999, 12, 31, tzinfo=UTC)


class BatchWriter:
    """What evaluations write, gathered column by column and written with one statement
    per table on ``flush``: the runs a group commit finishes together write their alert
    states, history rows and outbox rows once for the group, not once per run.

    Only evaluations of different metrics may share a writer before a flush: the next
    evaluation of a metric reads the alert states the previous one wrote."""

    def __init__(self) -> None:
        self._states: dict[str, list[Any]] = {}
        self._history: dict[str, list[Any]] = {}
        self._outbox: list[dict[str, Any]] = []

    def add(
        self,
        states: Mapping[str, Sequence[Any]],
        history: Mapping[str, Sequence[Any]],
        outbox: Sequence[dict[str, Any]],
    ) -> None:
        for into, columns in ((self._states, states), (self._history, history)):
            for name, values in columns.items():
                into.setdefault(name, []).extend(values)
        self._outbox.extend(outbox)

    def flush(self, conn: Connection) -> None:
        states, history, outbox = self._states, self._history, self._outbox
        self._states, self._history, self._outbox = {}, {}, []
        if states:
            # The claim: the UPDATE carries its condition. The rows are locked since
            # they were read, so it holds for every row; a row it skipped was changed
            # behind it.
            changed = update_columns(
                conn, alerts, "id", states, unset_or_not_after=("last_triggered_at", "claim_cutoff")
            )
            if changed != len(states["id"]):
                raise RuntimeError(
                    f"{len(states['id']) - changed} alert row(s) changed during their "
                    "evaluation's lock"
                )
        insert_columns(conn, alert_history, history)
        insert_rows(conn, notification_deliveries, outbox)


def record_batch(
    conn: Connection,
    ids: Sequence[uuid.UUID],
    alerts_: Sequence[tuple[str, str]],
    rules: Sequence[core.AlertRule],
    decisions: list[core.Decision],
    execution: Execution,
    at: datetime,
    metric: tuple[uuid.UUID, uuid.UUID, str],
    settings: Settings,
    claim_for_seconds: float | None,
    outbox: list[dict[str, Any]],
    writer: BatchWriter | None = None,
) -> list[Evaluated]:
    """Write the batch's decisions (``alerts_``: each alert's name and actions as JSON
    text; the rows are locked by the caller) and return them as recorded. With
    ``writer``, the rows are gathered there for the caller to flush."""
    metric_id, org_id, metric_name = metric
    cutoffs = [_NO_CLAIM] * len(ids)
    for i, (rule, d) in enumerate(zip(rules, decisions, strict=True)):
        if d.notify != "trigger":
            continue
        cutoff = cooldown_cutoff(rule.cooldown_seconds, at)
        last = d.previous_status.last_triggered_at
        if last is None or last <= cutoff:
            cutoffs[i] = cutoff
        else:
            decisions[i] = core.suppress(d, "cooldown: another evaluation notified first")

    now = utcnow()
    n = len(ids)
    # Column by column: one pass over the decisions per column (zip(*...) transposes in
    # C) costs a fraction of a dict per row.
    column = dict(zip(core.Decision._fields, zip(*decisions, strict=True), strict=True))
    applied = column["applied"]
    if all(applied):
        kept_ids, kept, kept_cutoffs = ids, decisions, cutoffs
    else:
        keep = [i for i, flag in enumerate(applied) if flag]
        kept_ids = [ids[i] for i in keep]
        kept = [decisions[i] for i in keep]
        kept_cutoffs = [cutoffs[i] for i in keep]
    states: dict[str, Sequence[Any]] = {}
    if kept:
        states["id"] = kept_ids
        states.update(
            zip(
                core.AlertStatus._fields,
                zip(*(d.new_status for d in kept), strict=True),
                strict=True,
            )
        )
        states["last_value"] = [d.value for d in kept]
        states["last_execution_id"] = [execution.id] * len(kept)
        states["updated_at"] = [now] * len(kept)
        states["claim_cutoff"] = kept_cutoffs

    notified = [kind is not None for kind in column["notify"]]
    history: dict[str, Sequence[Any]] = {
        "id": list(fresh_uuids(n)),
        "alert_id": ids,
        "org_id": [org_id] * n,
        "execution_id": [execution.id] * n,
        "evaluated_at": [at] * n,
        "value": column["value"],
        "baseline_value": column["baseline_value"],
        "triggered": column["triggered"],
        "state_from": column["state_from"],
        "state_to": column["state_to"],
        "notified": notified,
        "reason": column["reason"],
    }
    lease_until = None if claim_for_seconds is None else now + timedelta(seconds=claim_for_seconds)
    first = len(outbox)
    decoded: dict[str, Any] = {}
    delivery_ids = uuid_stream()
    payload_for = PayloadMaker(org_id, metric_id, metric_name, at, settings)
    out = [Evaluated(ids[i], [], decisions[i], history, i) for i in range(n)]
    for i in (i for i, flag in enumerate(notified) if flag):
        (name, action_json), d = alerts_[i], decisions[i]
        assert d.notify is not None
        actions = decoded.get(action_json)
        if actions is None:
            # Alerts of one metric often share their actions: decoded once, and then the
            # outbox's bulk insert encodes the shared object once too. Nothing downstream
            # mutates an action (redaction copies).
            actions = decoded[action_json] = json.loads(action_json)
        target = _Target(ids[i], org_id, metric_id, name, actions)
        payload = payload_for(d.notify, str(ids[i]), name, d, core.describe_condition(rules[i]))
        rows = delivery_rows(
            target,
            d.notify,
            payload,
            history["id"][i],
            now,
            lease_until=lease_until,
            new_id=delivery_ids.__next__,
        )
        outbox.extend(rows)
        out[i].delivery_ids = [r["id"] for r in rows]
    own = writer or BatchWriter()
    own.add(states, history, outbox[first:])
    if writer is None:
        own.flush(conn)
    categories = map(_category, column["suppressed"])
    tally = Counter(zip(column["state_to"], notified, categories, strict=True))
    for (state, sent, suppressed), count in tally.items():
        record_evaluation(state, sent, suppressed, count=count)
    return out


def _category(suppressed: str | None) -> str | None:
    return None if suppressed is None else suppression_category(suppressed)
