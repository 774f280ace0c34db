"""Alert actions: one channel class per ``type``, and the functions that send through them."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from tocsin.alerts.actions.base import (
    REDACTED,
    ActionConfigError,
    Channel,
    DeliveryFailed,
    Notification,
    NotificationKind,
    SendResult,
    format_value,
)
from tocsin.alerts.actions.registry import (
    CHANNELS,
    parse_action_spec,
    redact_action,
    redact_action_config,
    validate_action,
    validate_action_config,
)
from tocsin.alerts.actions.sealing import open_action
from tocsin.alerts.decision import AlertRule, describe_condition
from tocsin.crypto.keyring import Keyring
from tocsin.http import HttpClient, HttpError, UrlRefused
from tocsin.links import alert_url
from tocsin.settings import Settings, get_settings

__all__ = [
    "CHANNELS",
    "REDACTED",
    "ActionConfigError",
    "Channel",
    "DeliveryFailed",
    "HttpError",
    "Notification",
    "NotificationKind",
    "SendResult",
    "UrlRefused",
    "build_channel",
    "parse_action_spec",
    "redact_action",
    "redact_action_config",
    "send_action",
    "trigger_action",
    "trigger_notification",
    "validate_action",
    "validate_action_config",
]

logger = logging.getLogger("tocsin.actions")


def build_channel(
    action: Mapping[str, Any],
    settings: Settings,
    http: HttpClient,
    *,
    ring: Keyring | None = None,
) -> Channel[Any]:
    """Validate ``action`` and construct its channel (ActionConfigError if invalid).

    A stored action has its secrets sealed: with ``ring`` they are opened here, the one
    place besides a source's fetch that decrypts (SecretUnreadable if they cannot be)."""
    if ring is not None:
        action = open_action(action, ring)
    normalised = validate_action(action)
    channel = CHANNELS[normalised["type"]]
    return channel(channel.Config.model_validate(normalised), settings, http)


async def send_action(
    action: Mapping[str, Any], notification: Notification, *, settings: Settings, http: HttpClient
) -> SendResult:
    """Send one notification through one action.

    Raises ActionConfigError for a bad config, HttpError (DeliveryFailed is a subclass)
    with ``transient`` and ``retry_after`` for a failed delivery.
    """
    return await build_channel(action, settings, http).send(notification)


def _attr(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def _rule(alert: Any) -> AlertRule:
    """The rule of a loose alert (an object or a mapping): what it leaves out is a stored
    alert's default, a threshold that is no number shows as NaN."""
    change = _attr(alert, "condition_type") == "relative_change"
    threshold = _decimal(_attr(alert, "threshold_value"))
    return AlertRule(
        "relative_change" if change else "threshold",
        _attr(alert, "comparison_op"),
        Decimal("NaN") if threshold is None else threshold,
        _attr(alert, "change_mode") or "percent",
        _attr(alert, "lookback") or 1,
    )


def trigger_notification(alert: Any, value: Any, *, settings: Settings) -> Notification:
    """A ``trigger`` notification for ``alert`` at ``value``, evaluated now."""
    alert_id = str(_attr(alert, "id"))
    metric_id = str(_attr(alert, "metric_id"))
    metric_name = _attr(alert, "metric_name") or _attr(_attr(alert, "metric"), "name") or metric_id
    amount = _decimal(value)
    condition = describe_condition(_rule(alert))
    if condition.startswith("change"):
        reason = f"{format_value(amount)} ({condition})"
    else:
        reason = f"{format_value(amount)} {condition}"
    return Notification(
        kind="trigger",
        org_id=str(_attr(alert, "org_id")),
        alert_id=alert_id,
        alert_name=str(_attr(alert, "name") or f"alert {alert_id}"),
        metric_id=metric_id,
        metric_name=str(metric_name),
        value=amount,
        baseline_value=None,
        condition=condition,
        state="triggered",
        reason=reason,
        evaluated_at=datetime.now(UTC),
        link=alert_url(settings.public_url, alert_id),
        idempotency_key=f"trigger-{alert_id}-{uuid.uuid4().hex}",
    )


async def trigger_action(
    alert: Any,
    value: Any,
    *,
    settings: Settings | None = None,
    http: HttpClient | None = None,
) -> list[SendResult | Exception]:
    """Send a trigger notification through each of ``alert``'s actions right away.

    ``alert`` is any object or mapping with ``id, name, metric_id, org_id,
    action_config, comparison_op, threshold_value`` (and optionally ``condition_type``,
    ``change_mode``, ``metric_name`` or ``metric.name``). ``action_config`` is one action
    object, a list of them, or their JSON text. Actions are sent concurrently and
    independently, with no outbox and no retry: the result list holds, per action in
    order, its SendResult or the exception it failed with (ActionConfigError, HttpError).
    """
    settings = settings or get_settings()
    config = _attr(alert, "action_config")
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except ValueError:
            return [ActionConfigError("action_config", "expected a JSON action object or list")]
    actions = config if isinstance(config, list) else [config]
    notification = trigger_notification(alert, value, settings=settings)

    async def one(index: int, action: Any, client: HttpClient) -> SendResult:
        field = f"action_config[{index}]" if isinstance(config, list) else "action_config"
        validated = validate_action(action, field=field)
        key = f"{notification.idempotency_key}-{index}"
        note = Notification(**{**notification.__dict__, "idempotency_key": key})
        return await send_action(validated, note, settings=settings, http=client)

    async def run_all(client: HttpClient) -> list[SendResult | Exception]:
        results = await asyncio.gather(
            *(one(i, a, client) for i, a in enumerate(actions)), return_exceptions=True
        )
        out: list[SendResult | Exception] = []
        for action, result in zip(actions, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            if isinstance(result, Exception):
                kind = _attr(action, "type") if isinstance(action, Mapping) else None
                logger.warning(
                    "action %s of alert %s failed: %s", kind, notification.alert_id, result
                )
            out.append(result)
        return out

    if http is not None:
        return await run_all(http)
    async with HttpClient(settings) as client:
        return await run_all(client)
