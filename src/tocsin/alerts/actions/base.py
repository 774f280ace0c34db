"""What every channel shares: the notification it sends, its result and its errors."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict
from yarl import URL

from tocsin.http import HttpClient, HttpError
from tocsin.metrics.series import describe_labels
from tocsin.numbers import format_decimal
from tocsin.settings import Settings

#: ``trigger``/``resolve`` open and close a breach, ``test`` is a user's test notice.
#: ``no_data``/``error`` are failure notices (the source returned nothing readable, or
#: failed, for ``pending_evaluations`` runs; ``value`` is None and ``reason`` carries the
#: source's own text) and ``recovered`` says readable data came back.
NotificationKind = Literal["trigger", "resolve", "test", "no_data", "error", "recovered"]
#: How a secret field is shown by ``redact_action``: replaced whole, as scheme+host of
#: a URL, or (for a mapping such as headers) with every value replaced.
SecretStyle = Literal["value", "url", "mapping"]
REDACTED = "***redacted***"


@dataclass(frozen=True)
class Notification:
    kind: NotificationKind
    org_id: str
    alert_id: str
    alert_name: str
    metric_id: str
    metric_name: str
    value: Decimal | None
    baseline_value: Decimal | None
    condition: str  # human text e.g. "> 5" or "change < -20%"
    state: str  # alert state after evaluation: ok|pending|triggered|no_data|error
    reason: str  # e.g. "6 > 5"
    evaluated_at: datetime  # aware UTC
    link: str | None  # URL of the alert page
    idempotency_key: str  # stable per delivery
    # The series the notification is about; empty for a metric without series.
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def series(self) -> str:
        """``{service="api"}``, or ``""`` without labels."""
        return describe_labels(self.labels)


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    detail: str


class ActionConfigError(ValueError):
    """A bad action config; the message names the field and what was expected."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field
        self.expected = expected


class DeliveryFailed(HttpError):
    """A channel failure that is not an HTTP status (SMTP, Slack ``ok: false``...).

    It subclasses HttpError so the delivery layer needs a single ``except HttpError``.
    """


class ActionModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str


ConfigT = TypeVar("ConfigT", bound=ActionModel)


class Channel(ABC, Generic[ConfigT]):
    """One delivery channel. ``send`` raises HttpError/DeliveryFailed on failure."""

    type: ClassVar[str]
    Config: ClassVar[builtins.type[ActionModel]]
    secret_fields: ClassVar[Mapping[str, SecretStyle]] = {}

    def __init__(self, config: ConfigT, settings: Settings, http: HttpClient) -> None:
        self.config = config
        self.settings = settings
        self.http = http

    @abstractmethod
    async def send(self, notification: Notification) -> SendResult: ...


def format_value(value: Decimal | None) -> str:
    """A notification's value as the reasons write it (``format_decimal``)."""
    return "no value" if value is None else format_decimal(value)


# One table per concept, keyed by kind: a channel looks its kind up here (or in its own
# table) instead of repeating if-chains, and a new kind is a KeyError in every renderer
# until each table names it (tests render every kind through every channel).
_KIND_LABELS: Mapping[NotificationKind, str] = {
    "trigger": "TRIGGERED",
    "resolve": "RESOLVED",
    "test": "TEST",
    "no_data": "NO DATA",
    "error": "ERROR",
    "recovered": "RECOVERED",
}
_EVENT_NAMES: Mapping[NotificationKind, str] = {
    "trigger": "alert.triggered",
    "resolve": "alert.resolved",
    "test": "alert.test",
    "no_data": "alert.no_data",
    "error": "alert.error",
    "recovered": "alert.recovered",
}
# Templates for ``str.format``; the values are substituted, never parsed, so an alert
# name or an error text with braces in it is safe. A failure notice has no value worth
# showing (it is None), so it shows the reason instead.
_SUMMARIES: Mapping[NotificationKind, str] = {
    "trigger": "{alert}: {metric}{series} = {value} (condition {condition})",
    "resolve": "Resolved: {alert} ({metric}{series} = {value})",
    "test": "Test: {alert}: {metric}{series} = {value} (condition {condition})",
    "no_data": "No data: {alert} ({metric}{series}): {reason}",
    "error": "Error: {alert} ({metric}{series}): {reason}",
    "recovered": "Recovered: {alert} ({metric}{series} = {value})",
}


def kind_label(kind: NotificationKind) -> str:
    """``TRIGGERED``, ``NO DATA``...: the kind as subjects and log lines name it."""
    return _KIND_LABELS[kind]


def event_name(kind: NotificationKind) -> str:
    """The webhook ``event``: ``alert.triggered``, ``alert.no_data``..."""
    return _EVENT_NAMES[kind]


def summary_line(n: Notification) -> str:
    """One plain line for subjects, PagerDuty summaries and fallbacks."""
    return _SUMMARIES[n.kind].format(
        alert=n.alert_name,
        metric=n.metric_name,
        series=n.series,
        value=format_value(n.value),
        condition=n.condition,
        # A failure notice should always say why; this only keeps the line readable
        # if one arrives without a reason.
        reason=n.reason or "no reason given",
    )


def details(n: Notification) -> dict[str, Any]:
    """Fields shared by structured outputs (log extras, PagerDuty custom_details)."""
    return {
        "alert": n.alert_name,
        "alert_id": n.alert_id,
        "metric": n.metric_name,
        "metric_id": n.metric_id,
        "value": format_value(n.value) if n.value is not None else None,
        "baseline_value": (
            format_value(n.baseline_value) if n.baseline_value is not None else None
        ),
        "condition": n.condition,
        "state": n.state,
        "reason": n.reason,
        "kind": n.kind,
        "evaluated_at": n.evaluated_at.isoformat(),
        **({"labels": dict(n.labels)} if n.labels else {}),
    }


def check_http_url(value: str) -> str:
    """Config-time URL check (the SSRF guard runs at send time, after DNS)."""
    try:
        parsed = URL(value.strip())
    except (ValueError, TypeError):
        raise ValueError("expected an http(s) URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("expected an http(s) URL")
    return str(parsed)
