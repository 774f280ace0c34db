"""No secret (action secrets, source header tokens, the API key) appears in any response
body or any log line, across every route, including failures and bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from api_support import API, Tenant
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.channels.channel_support import Reply, Sink

from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings

SECRETS = (
    "hookpathtoken777",
    "whsec-leak-888",
    "hdr-leak-999",
    "slackleak555",
    "pdleak0123456789",
    "srcleak444",
)


@pytest.fixture
def leaky_client(db: Database, api_settings: Settings, sink: Sink) -> Iterator[TestClient]:
    settings = api_settings.model_copy(update={"pagerduty_events_url": f"{sink.url}/v2/enqueue"})
    app: FastAPI = create_app(db, settings)
    with TestClient(app) as client:
        yield client


def test_no_secret_in_any_response_or_log(
    leaky_client: TestClient, acme: Tenant, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    client, h = leaky_client, acme.headers
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    def call(method: str, path: str, json: object = None, **kw: object) -> dict[str, object]:
        resp = client.request(method, path, json=json, headers=h, **kw)  # type: ignore[arg-type]
        assert resp.status_code < 500, (method, path, resp.text)
        bodies.append(resp.text)
        return (
            resp.json()
            if resp.headers.get("content-type", "").startswith("application/json")
            else {}
        )

    actions = [
        {
            "type": "webhook",
            "url": f"{sink.url}/hook/hookpathtoken777",
            "secret": "whsec-leak-888",
            "headers": {"X-Key": "hdr-leak-999"},
        },
        {"type": "slack", "url": f"{sink.url}/services/T0/B0/slackleak555"},
        {"type": "pagerduty", "routing_key": "pdleak0123456789"},
    ]
    call("POST", f"{API}/metrics", {"name": "Issues", "source": {"type": "push"}})
    source = {
        "type": "http",
        "url": f"{sink.url}/count",
        "headers": {"Authorization": "Bearer srcleak444"},
    }
    call(
        "POST",
        f"{API}/metrics",
        {"name": "Remote", "source": source, "schedule": {"every_seconds": 60}},
    )
    alert = {
        "metric_id": "Issues",
        "name": "A",
        "comparison_op": "gt",
        "threshold_value": 5,
        "cooldown_seconds": 0,
        "action_config": actions,
    }
    made = call("POST", f"{API}/alerts", alert)
    # Bad input that carries the secrets: the 422 must not echo them.
    call("POST", f"{API}/alerts", alert | {"name": "", "bogus": True})
    call(
        "POST",
        f"{API}/alerts",
        alert
        | {
            "name": "B",
            "action_config": {"type": "pagerduty", "routing_key": "pdleak0123456789 !"},
        },
    )
    call(
        "POST",
        f"{API}/alerts",
        alert
        | {
            "name": "B",
            "action_config": {
                "type": "webhook",
                "url": "nota url hookpathtoken777",
                "secret": "whsec-leak-888",
            },
        },
    )

    sink.reply(Reply(status=500, body="down"), Reply(status=400), Reply(status=200))
    call("POST", f"{API}/metrics/Issues/values", {"value": 6})
    call("POST", f"{API}/metrics/Issues/values", {"value": 7})
    call("POST", f"{API}/metrics/Remote/run")
    call("POST", f"{API}/alerts/A/test")
    call("GET", f"{API}/metrics")
    call("GET", f"{API}/metrics/Remote")
    call("PATCH", f"{API}/metrics/Remote", {"description": "d"})
    call("GET", f"{API}/metrics/Issues/executions")
    call("GET", f"{API}/alerts")
    call("GET", f"{API}/alerts/A")
    call("GET", f"{API}/alerts/A/history")
    shown = made["action_config"]
    call("PATCH", f"{API}/alerts/A", {"action_config": shown, "threshold_value": 4})
    call("POST", f"{API}/alerts/A/mute", {"for_seconds": 60})
    call("POST", f"{API}/alerts/A/unmute")
    deliveries = call("GET", f"{API}/deliveries")["items"]
    assert isinstance(deliveries, list) and len(deliveries) >= 6
    for d in deliveries:
        call("POST", f"{API}/deliveries/{d['id']}/retry")
    call("POST", f"{API}/chat", {"message": "Notify me if Issues > 9"})
    call("GET", "/healthz")
    call("GET", "/metrics")
    call("GET", "/openapi.json")
    call("DELETE", f"{API}/alerts/A")
    call("DELETE", f"{API}/metrics/Remote")

    assert len(sink.requests) >= 6  # the secrets really were used
    assert len(caplog.records) >= 5  # and the deliveries logged what happened
    logged = [r.getMessage() + (r.exc_text or "") + str(r.args) for r in caplog.records]
    for secret in (*SECRETS, acme.key):
        for body in bodies:
            assert secret not in body
        for line in logged:
            assert secret not in line, line
