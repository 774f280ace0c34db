"""A run on request: ``tocsin metric run``, ``POST /metrics/{id}/run`` and ``/values``.

Execute the metric (or record the given value), evaluate its alerts, make the first
attempt at the deliveries that caused, and report all three. What fails to deliver stays
pending for the runner to retry.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import EvaluationResult, evaluate_alerts
from tocsin.alerts.model import HistoryRow
from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution
from tocsin.metrics.sources import SOURCES
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings


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


def parse_value(text: str) -> Any:
    """``--value`` as JSON when it is JSON (``6``, ``{"value": 6}``), else the raw text,
    which extraction then judges (``"abc"`` is an error, with a reason)."""
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
    def prepare() -> tuple[uuid.UUID, Execution | None]:
        with db.begin() as conn:
            metric = MetricStore(conn, org_id).get(metric_ref)
            if has_value:
                trigger = "push" if metric.source["type"] == "push" else "manual"
                return metric.id, MetricStore(conn, org_id).record_value(
                    metric.id, value, trigger=trigger
                )
            if not SOURCES[metric.source["type"]].scheduled:
                raise InvalidInput("--value", "a push metric needs a value: --value 6")
            return metric.id, None

    metric_id, execution = await asyncio.to_thread(prepare)
    if execution is None:
        from tocsin.execution.scheduler import run_metric_execution

        execution = await run_metric_execution(
            db, metric_id, settings=settings, http=http, trigger="manual"
        )
    evaluation = await asyncio.to_thread(
        evaluate_alerts, db, metric_id, execution, settings=settings
    )
    await Deliverer(db, settings, http).deliver_ids(evaluation.delivery_ids)
    return await asyncio.to_thread(_report, db, org_id, execution, evaluation)


def _report(
    db: Database, org_id: uuid.UUID, execution: Execution, evaluation: EvaluationResult
) -> RunReport:
    with db.connect() as conn:
        alerts = AlertStore(conn, org_id)
        history = [alerts.history_row(e.history["id"]) for e in evaluation.evaluated]
        ids = evaluation.delivery_ids
        deliveries = DeliveryStore(conn, org_id).list(ids=ids, limit=len(ids)) if ids else []
        fresh = MetricStore(conn, org_id).get_execution(execution.id)
    return RunReport(fresh, history, deliveries)


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
        from tocsin.alerts.evaluator import rule_of
        from tocsin.alerts.outbox import enqueue, notification_payload
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
