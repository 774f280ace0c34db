"""PagerDuty Events API v2: ``{"type": "pagerduty", "routing_key": ..., "severity": ...}``.

Triggers and resolves share the dedup key ``tocsin-<alert_id>`` (with a digest of the
labels for a series: one incident per series), so an alert's firing is
one PagerDuty incident and its resolve closes it; a later firing opens a new one.

Failure notices use that same key, so a series has one incident whatever went wrong:
``error`` and ``no_data`` are trigger events with severity ``error`` and ``warning``
(fixed: the action's ``severity`` is for breaches, and a broken source is not one), and
``recovered`` is a resolve event.

Test notifications send a trigger only, under the separate dedup key
``tocsin-test-<alert_id>``: the user sees a real incident arrive through their routing
(the point of a test), repeated tests fold into that one incident, and the alert's real
incident is never touched. The test incident is left for the user to resolve, because a
follow-up resolve would be a second request that could fail on its own.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    DeliveryFailed,
    Notification,
    NotificationKind,
    SendResult,
    details,
    summary_line,
)
from tocsin.http import is_transient_status, parse_retry_after
from tocsin.metrics.series import series_key

Severity = Literal["critical", "error", "warning", "info"]
_SUMMARY_MAX = 1024

# Per kind: the Events API action, and the payload's class (how PagerDuty groups it).
_ACTIONS: dict[NotificationKind, Literal["trigger", "resolve"]] = {
    "trigger": "trigger",
    "resolve": "resolve",
    "test": "trigger",
    "no_data": "trigger",
    "error": "trigger",
    "recovered": "resolve",
}
_CLASSES: dict[NotificationKind, str] = {
    "trigger": "metric alert",
    "test": "test",
    "no_data": "metric no data",
    "error": "metric error",
}
# Kinds whose severity is fixed, whatever the action's ``severity`` (which says how bad
# a breach is): an unreadable metric is serious, missing data a warning.
_FIXED_SEVERITIES: dict[NotificationKind, Severity] = {"no_data": "warning", "error": "error"}


class PagerDutyConfig(ActionModel):
    type: Literal["pagerduty"] = "pagerduty"
    routing_key: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    severity: Severity = "error"


# A broken source is an incident of its own, beside the breach: a series can be firing
# when its source breaks, and the source's recovery must not resolve the firing.
_SOURCE_KINDS: frozenset[NotificationKind] = frozenset({"no_data", "error", "recovered"})


def dedup_key(n: Notification) -> str:
    if n.kind == "test":
        return f"tocsin-test-{n.alert_id}"
    base = f"tocsin-{n.alert_id}" + ("-source" if n.kind in _SOURCE_KINDS else "")
    if not n.labels:
        return base
    # One incident per series: its trigger and its resolve share this key.
    digest = hashlib.sha256(series_key(n.labels).encode()).hexdigest()[:16]
    return f"{base}-{digest}"


def event(n: Notification, routing_key: str, severity: Severity) -> dict[str, Any]:
    action = _ACTIONS[n.kind]
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(n),
    }
    if action == "resolve":
        return body
    summary = ("[TEST] " if n.kind == "test" else "") + summary_line(n)
    body["payload"] = {
        "summary": summary[:_SUMMARY_MAX],
        "source": "tocsin",
        "severity": _FIXED_SEVERITIES.get(n.kind, severity),
        "timestamp": n.evaluated_at.isoformat(),
        "component": n.metric_name,
        "class": _CLASSES[n.kind],
        "custom_details": details(n),
    }
    body["client"] = "Tocsin"
    if n.link:
        body["client_url"] = n.link
        body["links"] = [{"href": n.link, "text": "Alert in Tocsin"}]
    return body


class PagerDutyChannel(Channel[PagerDutyConfig]):
    type = "pagerduty"
    Config = PagerDutyConfig
    secret_fields = {"routing_key": "value"}

    async def send(self, notification: Notification) -> SendResult:
        body = event(notification, self.config.routing_key, self.config.severity)
        resp = await self.http.request("POST", self.settings.pagerduty_events_url, json=body)
        if resp.ok:
            return SendResult(
                status_code=resp.status,
                detail=f"PagerDuty accepted {body['event_action']} ({body['dedup_key']})",
            )
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        reason = f"HTTP {resp.status}"
        if isinstance(answer, dict):
            # PagerDuty explains a 400 in "message" and "errors"; neither echoes the key.
            parts = [str(answer.get("message") or "")] + [
                str(e) for e in answer.get("errors") or []
            ]
            text = "; ".join(p for p in parts if p)[:300]
            if text:
                reason += f": {text}"
        raise DeliveryFailed(
            f"PagerDuty rejected the event ({reason})",
            transient=is_transient_status(resp.status),
            status=resp.status,
            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
        )
