"""The seed scenario over HTTP: pushing Issues = 6 fires "Notify if Issues > 5" and the
signed webhook arrives."""

from __future__ import annotations

import hashlib
import hmac

from api_support import API, Tenant, create_alert, create_metric
from fastapi.testclient import TestClient
from tests.channels.channel_support import Sink


def test_pushed_value_fires_the_seed_alert(client: TestClient, acme: Tenant, sink: Sink) -> None:
    metric = create_metric(client, acme.headers, name="Issues")
    alert = create_alert(
        client,
        acme.headers,
        metric["id"],
        name="Notify if Issues > 5",
        action_config={"type": "webhook", "url": f"{sink.url}/tocsin", "secret": "whsec-123"},
    )

    quiet = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 3}, headers=acme.headers
    ).json()
    assert quiet["evaluations"][0]["triggered"] is False and quiet["deliveries"] == []
    assert sink.requests == []

    resp = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=acme.headers
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    (evaluation,) = report["evaluations"]
    assert evaluation["state_from"] == "ok" and evaluation["state_to"] == "triggered"
    assert evaluation["notified"] is True and evaluation["reason"].startswith("6 > 5")
    (delivery,) = report["deliveries"]
    assert delivery["status"] == "sent" and delivery["response_status"] == 200

    (request,) = sink.requests
    assert request.method == "POST" and request.path == "/tocsin"
    payload = request.json()
    assert payload["event"] == "alert.triggered" and payload["value"] == 6
    assert payload["alert"] == {"id": alert["id"], "name": "Notify if Issues > 5"}
    expected = hmac.new(b"whsec-123", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Tocsin-Signature"] == f"sha256={expected}"
    assert request.headers["Idempotency-Key"] == delivery["idempotency_key"]

    shown = client.get(f"{API}/alerts/{alert['id']}", headers=acme.headers).json()
    assert shown["state"] == "triggered" and shown["last_value"] == 6
    assert shown["last_triggered_at"] == evaluation["evaluated_at"]
