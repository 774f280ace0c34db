"""A run on request: from the CLI, the UI, ``POST /metrics/{id}/run`` and ``/values``.

Execute the metric (or record the given value), evaluate its alerts, make the first
attempt at the deliveries that caused, and report all three. What fails to deliver stays
pending for the runner to retry.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts
from tocsin.alerts.model import HistoryRow
from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.db.database import Database, runs_inline
from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.metrics.definition import parse_pairs
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.series import describe_labels, extract_series
from tocsin.metrics.sources import SOURCES
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

# A push evaluates up to this many alerts on the event loop (a few milliseconds at most),
# more in a worker thread.
INLINE_ALERTS = 50


@dataclass
class RunReport:
    execution: Execution
    evaluations: list[HistoryRow]
    deliveries: list[Delivery]

    def public(self) -> dict[str, Any]:
        return {
            "execution": self.execution.public(),
            "evaluations": [h.public() for h in self.evaluations],
            "deliveries": [d.public() for d in self.deliveries],
        }


class NeedsValue(InvalidInput):
    """A push metric asked to run without a value: each edge says how to give one."""

    def __init__(self) -> None:
        super().__init__("value", "a push metric needs a value")


def check_value(value: Any, metric: Metric) -> None:
    """Refuse a given value the metric's selector cannot read a number from (``abc``,
    ``NaN``, ``1e400``, ``true``): bad input, nothing recorded. A *source* returning such a
    value is different: that run is recorded, its alerts in ``error``, with the reason."""
    # Judged for freshness too: an unreadable timestamp is bad input; stale data is not.
    found = extract_series(value, metric.selector, at=utcnow())
    if found.failure is not None and found.failure.status == "error":
        reason = found.failure.reason
        raise InvalidInput("value", f"expected a number the metric can read: {reason}")
    for series in found.series:
        if series.extracted.status == "error":
            name = f"{describe_labels(series.labels)}: " if series.labels else ""
            reason = f"{name}{series.extracted.reason}"
            raise InvalidInput("value", f"expected a number the metric can read: {reason}")


def given_reading(value: str | None, labels: Sequence[str], result: str | None) -> Any:
    """A reading typed as text: a value (``6``, JSON or raw text), the labels of the
    series it is of (``service=api``), or a whole result as JSON, exactly as a source
    would return it. Errors name the input (``value``, ``labels``, ``result``)."""
    if result is not None:
        if value is not None or labels:
            raise InvalidInput("result", "expected either a whole result or a value, not both")
        try:
            return _jsonable(json.loads(result, parse_float=Decimal))
        except ValueError as exc:
            raise InvalidInput("result", f"expected JSON: {exc}") from None
    if labels and value is None:
        raise InvalidInput("labels", "labels name the series of a value: give the value too")
    parsed = parse_value(value) if value is not None else None
    if not labels:
        return parsed
    return {"value": parsed, "labels": parse_pairs(labels, "labels", ", e.g. service=api")}


def parse_value(text: str) -> Any:
    """A value typed as text, as JSON when it is JSON (``6``, ``{"value": 6}``), else the
    raw text, which extraction then judges (``"abc"`` is an error, with a reason)."""
    try:
        parsed = json.loads(text, parse_float=Decimal)
    except ValueError:
        return text
    return _jsonable(parsed)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Keep the exact digits when a float would lose them.
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


async def run_now(
    db: Database,
    org_id: uuid.UUID,
    metric_ref: str | uuid.UUID,
    *,
    settings: Settings,
    http: HttpClient,
    value: Any = None,
    has_value: bool = False,
) -> RunReport:
    def record(conn: Connection) -> tuple[Metric, Execution | None]:
        store = MetricStore(conn, org_id)
        metric = store.get(metric_ref)
        if has_value:
            check_value(value, metric)
            trigger = "push" if metric.source["type"] == "push" else "manual"
            # Evaluated below, in this same transaction.
            recorded = store.record_value(
                metric.id, value, trigger=trigger, metric=metric, evaluated=True
            )
            return metric, recorded
        if not SOURCES[metric.source["type"]].scheduled:
            raise NeedsValue()
        return metric, None

    def evaluate(
        metric: Metric,
        execution: Execution,
        conn: Connection | None = None,
        at_most: int | None = None,
    ) -> EvaluationResult:
        # Deliveries are born claimed by this call, which makes their first attempt.
        return evaluate_alerts(
            db,
            metric.id,
            execution,
            settings=settings,
            metric=metric,
            claim_for_seconds=settings.delivery_lease_seconds,
            conn=conn,
            at_most=at_most,
        )

    def record_and_evaluate(
        conn: Connection,
    ) -> tuple[Metric, Execution | None, EvaluationResult | None]:
        metric, execution = record(conn)
        if execution is None:
            return metric, None, None
        # Few alerts are evaluated on the event loop; more go to the worker thread.
        at_most = INLINE_ALERTS if runs_inline(conn) else None
        return metric, execution, evaluate(metric, execution, conn, at_most)

    # A pushed value is recorded and evaluated in one transaction: one commit instead of
    # two, and a push that fails records nothing.
    metric, execution, evaluation = await db.write(record_and_evaluate)
    if execution is None:
        from tocsin.execution.scheduler import run_metric_execution

        execution = await run_metric_execution(
            db, metric.id, settings=settings, http=http, trigger="manual"
        )
    if evaluation is None:
        evaluation = await asyncio.to_thread(evaluate, metric, execution)
    # The deliveries were born claimed by us: the first attempt needs no claim round trip.
    # Rows this process just built from typed values: constructing skips validating them.
    claimed = [Delivery.model_construct(**row) for row in evaluation.outbox]
    outcomes = await Deliverer(db, settings, http).send_claimed(claimed)
    history = [HistoryRow.model_construct(**e.history) for e in evaluation.evaluated]
    settled = [d.settled(o) for d, o in zip(claimed, outcomes, strict=True)]
    return RunReport(execution, history, settled)


async def send_test(
    db: Database,
    org_id: uuid.UUID,
    alert_ref: str | uuid.UUID,
    *,
    settings: Settings,
    http: HttpClient,
) -> list[Delivery]:
    """A test notification through every action of the alert, recorded as kind ``test``."""

    def enqueue_tests() -> list[uuid.UUID]:
        from tocsin.alerts.decision import describe_condition
        from tocsin.alerts.outbox import enqueue
        from tocsin.alerts.payload import notification_payload
        from tocsin.alerts.rules import rule_of
        from tocsin.clock import utcnow

        with db.begin() as conn:
            alert = AlertStore(conn, org_id).get_alert(alert_ref)
            metric = MetricStore(conn, org_id).get(alert.metric_id)
            payload = notification_payload(
                kind="test",
                alert=alert,
                metric_name=metric.name,
                decision=None,
                condition=describe_condition(rule_of(alert)),
                at=utcnow(),
                settings=settings,
            )
            return enqueue(conn, alert, "test", payload)

    ids = await asyncio.to_thread(enqueue_tests)
    await Deliverer(db, settings, http).deliver_ids(ids)

    def load() -> list[Delivery]:
        with db.connect() as conn:
            return DeliveryStore(conn, org_id).list(ids=ids, limit=len(ids))

    return await asyncio.to_thread(load)
