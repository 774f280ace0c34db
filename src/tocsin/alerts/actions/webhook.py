"""``{"type": "webhook", "url": ..., "secret": optional, "headers": optional}``.

Each notification is one JSON POST. Body (numbers are JSON numbers, exact decimals;
times ISO 8601 UTC; absent values are ``null``)::

    {
      "event": "alert.triggered" | "alert.resolved" | "alert.test"
               | "alert.no_data" | "alert.error" | "alert.recovered",
      "kind": "trigger" | "resolve" | "test" | "no_data" | "error" | "recovered",
      "alert": {"id": "...", "name": "..."},
      "metric": {"id": "...", "name": "..."},
      "value": 6,
      "baseline_value": null,
      "condition": "> 5",
      "state": "triggered",
      "reason": "6 > 5",  (for alert.no_data / alert.error: the source's own text)
      "evaluated_at": "2025-01-01T12:00:00+00:00",
      "link": "https://tocsin.example/alerts/...",
      "org_id": "..."
    }

Headers: ``Content-Type: application/json``, ``User-Agent: tocsin/<version>``,
``Idempotency-Key`` (the same on every retry of one delivery, so receivers can drop
duplicates) and, when a secret is set, ``X-Tocsin-Signature: sha256=<hex>``: the
HMAC-SHA256 of the exact body bytes keyed with the secret. Verify it over the raw body
before parsing it. User headers are sent too but cannot override these.
2xx is success; 408, 429 (honouring Retry-After) and 5xx are retried; other statuses fail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    Notification,
    SendResult,
    check_http_url,
    event_name,
)
from tocsin.http import USER_AGENT, dump_json, raise_for_status

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED = frozenset(
    {"content-type", "content-length", "host", "idempotency-key", "x-tocsin-signature"}
)


class WebhookConfig(ActionModel):
    type: Literal["webhook"] = "webhook"
    url: str
    secret: str | None = Field(default=None, min_length=1)
    headers: dict[str, str] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, val in (value or {}).items():
            if not _HEADER_NAME.match(name):
                raise ValueError("expected header names made of letters, digits and dashes")
            if name.lower() in _RESERVED:
                raise ValueError(f"expected no {name} header: Tocsin sets it")
            if "\r" in val or "\n" in val:
                raise ValueError("expected header values without line breaks")
        return value


def payload(n: Notification) -> dict[str, Any]:
    return {
        "event": event_name(n.kind),
        # The kind as deliveries and the API name it, so a receiver can match the two.
        "kind": n.kind,
        "alert": {"id": n.alert_id, "name": n.alert_name},
        "metric": {"id": n.metric_id, "name": n.metric_name},
        "value": n.value,
        "baseline_value": n.baseline_value,
        "condition": n.condition,
        "state": n.state,
        "reason": n.reason,
        "evaluated_at": n.evaluated_at.isoformat(),
        "link": n.link,
        "org_id": n.org_id,
        # Only for a series: a metric without series sends the payload it always did.
        **({"labels": dict(n.labels)} if n.labels else {}),
    }


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(Channel[WebhookConfig]):
    type = "webhook"
    Config = WebhookConfig
    # Webhook URLs often embed tokens (Discord, Teams, Zapier...), so the URL counts too.
    secret_fields = {"url": "url", "secret": "value", "headers": "mapping"}

    async def send(self, notification: Notification) -> SendResult:
        body = dump_json(payload(notification))
        headers = dict(self.config.headers or {})
        headers.update(
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Idempotency-Key": notification.idempotency_key,
            }
        )
        if self.config.secret:
            headers["X-Tocsin-Signature"] = sign(body, self.config.secret)
        resp = await self.http.request("POST", self.config.url, data=body, headers=headers)
        raise_for_status(resp)
        return SendResult(status_code=resp.status, detail=f"HTTP {resp.status}")
