"""Mute and resolve (issue 17 item 5), through the API on SQLite and PostgreSQL: a resolve
gets through a mute unless the alert drops them, and a firing a mute held back is sent
by the first breach after the unmute. Given / when / then."""

from __future__ import annotations

from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient


def _push(client: TestClient, tenant: Tenant, value: Any) -> dict[str, Any]:
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": value}, headers=tenant.headers
    )
    assert resp.status_code in (200, 201), resp.text
    data: dict[str, Any] = resp.json()
    return data


def _sent(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(d["kind"], d["status"]) for d in report["deliveries"]]


def _mute(client: TestClient, tenant: Tenant, alert_id: str) -> None:
    resp = client.post(
        f"{API}/alerts/{alert_id}/mute", json={"for_seconds": 3600}, headers=tenant.headers
    )
    assert resp.status_code == 200, resp.text


def test_a_resolve_gets_through_a_mute(client: TestClient, acme: Tenant) -> None:
    # Given an alert whose firing was sent, then muted
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    assert alert["drop_resolve_when_muted"] is False
    assert _sent(_push(client, acme, 6)) == [("trigger", "sent")]
    _mute(client, acme, alert["id"])

    # When the value recovers while muted
    report = _push(client, acme, 1)

    # Then the resolve is sent, and the history says why
    assert _sent(report) == [("resolve", "sent")]
    (evaluation,) = report["evaluations"]
    assert evaluation["state_to"] == "ok" and evaluation["notified"] is True
    assert "resolves get through a mute" in evaluation["reason"]


def test_an_alert_that_drops_resolves_while_muted_sends_none(
    client: TestClient, acme: Tenant
) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues", drop_resolve_when_muted=True)
    assert _sent(_push(client, acme, 6)) == [("trigger", "sent")]
    _mute(client, acme, alert["id"])

    report = _push(client, acme, 1)

    assert _sent(report) == []
    (evaluation,) = report["evaluations"]
    assert evaluation["state_to"] == "ok" and evaluation["notified"] is False
    assert "resolves dropped while muted" in evaluation["reason"]


def test_a_firing_held_back_by_a_mute_is_sent_after_the_unmute(
    client: TestClient, acme: Tenant
) -> None:
    # Given a muted alert that fired while muted (nothing sent)
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    _mute(client, acme, alert["id"])
    assert _sent(_push(client, acme, 6)) == []

    # When it is unmuted through the API and the next value still breaches
    resp = client.post(f"{API}/alerts/{alert['id']}/unmute", headers=acme.headers)
    assert resp.status_code == 200, resp.text
    report = _push(client, acme, 7)

    # Then that evaluation sends the firing the mute held back
    assert _sent(report) == [("trigger", "sent")]
    assert "sending the held-back notification" in report["evaluations"][0]["reason"]


def test_drop_resolve_when_muted_is_patched_and_refuses_null(
    client: TestClient, acme: Tenant
) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    url = f"{API}/alerts/{alert['id']}"
    resp = client.patch(url, json={"drop_resolve_when_muted": True}, headers=acme.headers)
    assert resp.status_code == 200 and resp.json()["drop_resolve_when_muted"] is True
    bad = client.patch(url, json={"drop_resolve_when_muted": None}, headers=acme.headers)
    assert bad.status_code == 422 and "drop_resolve_when_muted" in fields_of(bad.json())
    assert client.get(url, headers=acme.headers).json()["drop_resolve_when_muted"] is True
