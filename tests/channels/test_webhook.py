from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from tocsin.alerts.actions import HttpError, Notification, SendResult, UrlRefused, send_action
from tocsin.http import HttpClient
from tocsin.settings import Settings

from .channel_support import Reply, Sink, local_settings, make_notification

SECRET = "whsec-do-not-leak-7781"


def deliver(
    action: dict[str, Any], notification: Notification, settings: Settings | None = None
) -> SendResult:
    async def go() -> SendResult:
        s = settings or local_settings()
        async with HttpClient(s) as http:
            return await send_action(action, notification, settings=s, http=http)

    return asyncio.run(go())


def test_payload_headers_and_signature(sink: Sink) -> None:
    action = {
        "type": "webhook",
        "url": f"{sink.url}/hooks/tocsin",
        "secret": SECRET,
        "headers": {"X-Team": "payments"},
    }
    note = make_notification(value=Decimal("6.50"), baseline_value=Decimal("0.1"))
    result = deliver(action, note)

    assert result.status_code == 200
    [req] = sink.requests
    assert (req.method, req.path) == ("POST", "/hooks/tocsin")
    assert json.loads(req.body) == {
        "event": "alert.triggered",
        "kind": "trigger",
        "alert": {"id": "al-42", "name": "Open issues high"},
        "metric": {"id": "m-7", "name": "Open Issues"},
        "value": 6.5,
        "baseline_value": 0.1,
        "condition": "> 5",
        "state": "triggered",
        "reason": "6 > 5",
        "evaluated_at": "2025-01-02T03:04:05+00:00",
        "link": "https://tocsin.example/alerts/al-42",
        "org_id": "org-1",
    }
    # Exact decimals on the wire, not float approximations or strings.
    assert b'"value":6.5,' in req.body and b'"baseline_value":0.1,' in req.body
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Tocsin-Signature"] == f"sha256={expected}"
    assert req.headers["Idempotency-Key"] == "dlv-1001"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["User-Agent"].startswith("tocsin/")
    assert req.headers["X-Team"] == "payments"


def test_no_signature_without_secret(sink: Sink) -> None:
    deliver({"type": "webhook", "url": f"{sink.url}/h"}, make_notification())
    assert "X-Tocsin-Signature" not in sink.requests[0].headers


@pytest.mark.parametrize(("kind", "event"), [("resolve", "alert.resolved"), ("test", "alert.test")])
def test_event_names(sink: Sink, kind: str, event: str) -> None:
    deliver({"type": "webhook", "url": sink.url}, make_notification(kind=kind, state="ok"))
    body = sink.requests[0].json()
    assert body["event"] == event and body["state"] == "ok"


def test_fails_n_times_then_succeeds_with_same_idempotency_key(sink: Sink) -> None:
    sink.reply(Reply(503, "busy"), Reply(502, "bad gateway"))
    action = {"type": "webhook", "url": f"{sink.url}/h", "secret": SECRET}
    note = make_notification()
    errors = []
    for _ in range(2):
        with pytest.raises(HttpError) as info:
            deliver(action, note)
        errors.append(info.value)
    assert deliver(action, note).status_code == 200

    assert [(e.status, e.transient) for e in errors] == [(503, True), (502, True)]
    assert len(sink.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in sink.requests} == {"dlv-1001"}
    assert len({r.body for r in sink.requests}) == 1


def test_retry_after_and_permanent_failures(sink: Sink) -> None:
    sink.reply(Reply(429, "slow", {"Retry-After": "30"}), Reply(410, "gone"))
    action = {"type": "webhook", "url": sink.url}
    with pytest.raises(HttpError) as first:
        deliver(action, make_notification())
    with pytest.raises(HttpError) as second:
        deliver(action, make_notification())
    assert (first.value.transient, first.value.retry_after) == (True, 30.0)
    assert (second.value.transient, second.value.status) == (False, 410)


def test_loopback_refused_unless_allowed(sink: Sink) -> None:
    with pytest.raises(UrlRefused, match="TOCSIN_ALLOW_PRIVATE_NETWORKS"):
        deliver(
            {"type": "webhook", "url": sink.url},
            make_notification(),
            local_settings(allow_private_networks=False),
        )
    assert sink.requests == []


def test_secrets_stay_out_of_errors_and_logs(sink: Sink, caplog: pytest.LogCaptureFixture) -> None:
    sink.reply(Reply(500, "oops"))
    url = f"{sink.url}/hook/token-abc123?sig=zz9"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HttpError) as info:
        deliver({"type": "webhook", "url": url, "secret": SECRET}, make_notification())
    texts = [info.value.message, str(info.value), repr(info.value)]
    texts += [r.getMessage() + repr(r.__dict__) for r in caplog.records]
    for text in texts:
        for secret in (SECRET, "token-abc123", "zz9"):
            assert secret not in text


def test_a_series_payload_carries_its_labels(sink: Sink) -> None:
    action = {"type": "webhook", "url": f"{sink.url}/hooks/tocsin", "secret": SECRET}
    deliver(action, make_notification(labels={"service": "api", "region": "eu"}))
    [req] = sink.requests
    assert json.loads(req.body)["labels"] == {"service": "api", "region": "eu"}
