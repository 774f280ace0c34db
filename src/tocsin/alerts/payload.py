"""A notification's payload: what the channel will render, frozen when the alert fired
(decimals as text), stored on each outbox row so a retry an hour later says what
happened then."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tocsin.alerts.decision import Decision
from tocsin.links import alert_url_prefix
from tocsin.metrics.series import describe_labels
from tocsin.settings import Settings


def notification_payload(
    *,
    kind: str,
    alert: Any,
    metric_name: str,
    decision: Decision | None,
    condition: str,
    at: datetime,
    settings: Settings,
) -> dict[str, Any]:
    """What the channel will render, frozen when the alert fired (decimals as text)."""
    make = PayloadMaker(alert.org_id, alert.metric_id, metric_name, at, settings)
    if decision is not None:
        return make(kind, str(alert.id), alert.name, decision, condition)
    return make.without_decision(
        kind,
        alert.id,
        alert.name,
        condition,
        getattr(alert, "last_value", None),
        getattr(alert, "state", "ok"),
    )


class PayloadMaker:
    """Payloads of one evaluation: what its notifications share is rendered once."""

    def __init__(
        self,
        org_id: uuid.UUID,
        metric_id: uuid.UUID,
        metric_name: str,
        at: datetime,
        settings: Settings,
    ) -> None:
        self.org_id, self.metric_id = str(org_id), str(metric_id)
        self.metric_name, self.evaluated_at = metric_name, at.isoformat()
        self.links = alert_url_prefix(settings.public_url)

    def __call__(
        self,
        kind: str,
        alert_id: str,
        alert_name: str,
        decision: Decision,
        condition: str,
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        payload = self._payload(
            kind,
            alert_id,
            alert_name,
            condition,
            decision.value,
            decision.baseline_value,
            decision.new_status.state,
            decision.reason,
        )
        payload["labels"] = dict(labels or {})
        payload["series"] = describe_labels(labels or {})
        return payload

    def without_decision(
        self,
        kind: str,
        alert_id: uuid.UUID,
        alert_name: str,
        condition: str,
        value: Decimal | None,
        state: str,
    ) -> dict[str, Any]:
        """A test notification's payload: the alert as it stands."""
        return self._payload(
            kind, str(alert_id), alert_name, condition, value, None, state, "test notification"
        )

    def _payload(
        self,
        kind: str,
        alert_id: str,
        alert_name: str,
        condition: str,
        value: Decimal | None,
        baseline_value: Decimal | None,
        state: str,
        reason: str,
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "org_id": self.org_id,
            "alert_id": alert_id,
            "alert_name": alert_name,
            "metric_id": self.metric_id,
            "metric_name": self.metric_name,
            "value": None if value is None else str(value),
            "baseline_value": None if baseline_value is None else str(baseline_value),
            "condition": condition,
            "state": state,
            "reason": reason,
            "evaluated_at": self.evaluated_at,
            "link": self.links + alert_id,
        }
