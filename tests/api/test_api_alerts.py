"""/api/v1/alerts on SQLite and PostgreSQL: CRUD, history, test, mute, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient
from tests.helpers import opened

from tocsin.alerts.actions import REDACTED
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database

ALERT_KEYS = {
    # Series (issue 16): the metric's label columns, the alert's filter, its series.
    "series_by",
    "series_filter",
    "resolve_missing_after",
    "series_count",
    "series_states",
    "id",
    "org_id",
    "metric_id",
    "name",
    "description",
    "condition_type",
    "comparison_op",
    "threshold_value",
    "change_mode",
    "lookback",
    "action_config",
    "enabled",
    "cooldown_seconds",
    "pending_evaluations",
    "notify_on_resolve",
    # Mute and resolve (issue 17).
    "drop_resolve_when_muted",
    # When data breaks (issue 17).
    "on_no_data",
    "on_error",
    "failure_notice",
    # Reminders apart from the cooldown (issue 18).
    "repeat_every_seconds",
    "recovery_op",
    "recovery_threshold",
    "recover_from",
    "for_seconds",
    "keep_firing_seconds",
    "muted_until",
    "state",
    "last_triggered_at",
    "last_evaluated_at",
    "last_value",
    "created_at",
    "updated_at",
}


def push(client: TestClient, tenant: Tenant, metric: str, value: Any) -> dict[str, Any]:
    resp = client.post(
        f"{API}/metrics/{metric}/values", json={"value": value}, headers=tenant.headers
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_create_show_list_patch_delete(client: TestClient, acme: Tenant) -> None:
    metric = create_metric(client, acme.headers)
    other = create_metric(client, acme.headers, name="Other")
    # The metric may be named instead of given by ID, as on the command line.
    made = create_alert(client, acme.headers, "Open Issues", threshold_value=5.5)
    assert set(made) == ALERT_KEYS
    assert made["metric_id"] == metric["id"] and made["threshold_value"] == 5.5
    assert made["state"] == "ok" and made["action_config"] == {"type": "log"}
    second = create_alert(client, acme.headers, other["id"], name="B on other")

    by_name = client.get(f"{API}/alerts/Notify if Issues > 5", headers=acme.headers)
    assert by_name.status_code == 200 and by_name.json() == made

    everything = client.get(f"{API}/alerts", headers=acme.headers).json()
    assert [a["id"] for a in everything["items"]] == [second["id"], made["id"]]
    only = client.get(f"{API}/alerts", params={"metric_id": "Other"}, headers=acme.headers)
    assert [a["id"] for a in only.json()["items"]] == [second["id"]]
    assert (
        client.get(f"{API}/alerts", params={"metric_id": "nope"}, headers=acme.headers).status_code
        == 404
    )

    resp = client.patch(
        f"{API}/alerts/{made['id']}",
        json={"threshold_value": "10", "comparison_op": "gte", "cooldown_seconds": 0},
        headers=acme.headers,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["threshold_value"], body["comparison_op"], body["cooldown_seconds"]) == (
        10,
        "gte",
        0,
    )
    resp = client.patch(
        f"{API}/alerts/{made['id']}", json={"metric_id": "Other"}, headers=acme.headers
    )
    assert resp.status_code == 200 and resp.json()["metric_id"] == other["id"]

    gone = client.delete(f"{API}/alerts/{made['id']}", headers=acme.headers)
    assert gone.status_code == 200 and gone.json()["deleted"]["id"] == made["id"]
    assert client.get(f"{API}/alerts/{made['id']}", headers=acme.headers).status_code == 404


def test_history_filters_and_pages(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    reports = [push(client, acme, "Open Issues", v) for v in (1, 6, 7, 2)]
    times = [r["evaluations"][0]["evaluated_at"] for r in reports]

    resp = client.get(f"{API}/alerts/{alert['id']}/history", headers=acme.headers)
    assert resp.status_code == 200
    rows = resp.json()["items"]
    assert [r["value"] for r in rows] == [2, 7, 6, 1]
    assert set(rows[0]) == {
        "id",
        "alert_id",
        "execution_id",
        "evaluated_at",
        "value",
        "baseline_value",
        "triggered",
        "state_from",
        "state_to",
        "notified",
        "reason",
        # Series (issue 16): the series evaluated, and its labels ({} without series).
        "series_id",
        "labels",
    }
    assert rows[0]["labels"] == {}
    assert rows[2]["state_to"] == "triggered" and rows[2]["notified"] is True

    window = {"since": times[1], "until": times[3]}
    resp = client.get(f"{API}/alerts/{alert['id']}/history", params=window, headers=acme.headers)
    assert [r["value"] for r in resp.json()["items"]] == [7, 6]

    values: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(
            f"{API}/alerts/{alert['id']}/history", params=params, headers=acme.headers
        ).json()
        values += [r["value"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert values == [2, 7, 6, 1]

    naive = client.get(
        f"{API}/alerts/{alert['id']}/history",
        params={"since": "2026-01-01T00:00:00"},
        headers=acme.headers,
    )
    assert naive.status_code == 422 and "since" in fields_of(naive.json())


def test_mute_and_unmute(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    url = f"{API}/alerts/{alert['id']}"
    before = datetime.now(UTC)
    resp = client.post(f"{url}/mute", json={"for_seconds": 3600}, headers=acme.headers)
    assert resp.status_code == 200, resp.text
    until = datetime.fromisoformat(resp.json()["muted_until"])
    assert before + timedelta(seconds=3590) < until < before + timedelta(seconds=3700)

    # Muted: evaluated and recorded, nothing sent.
    report = push(client, acme, "Open Issues", 6)
    assert report["evaluations"][0]["state_to"] == "triggered"
    assert report["evaluations"][0]["notified"] is False and report["deliveries"] == []

    later = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    resp = client.post(f"{url}/mute", json={"until": later.isoformat()}, headers=acme.headers)
    assert resp.status_code == 200
    assert datetime.fromisoformat(resp.json()["muted_until"]) == later

    for bad in ({}, {"for_seconds": 60, "until": later.isoformat()}, {"for_seconds": 0}):
        resp = client.post(f"{url}/mute", json=bad, headers=acme.headers)
        assert resp.status_code == 422, bad
    past = client.post(f"{url}/mute", json={"until": "2000-01-01T00:00:00Z"}, headers=acme.headers)
    assert past.status_code == 422 and "until" in fields_of(past.json())

    resp = client.post(f"{url}/unmute", headers=acme.headers)
    assert resp.status_code == 200 and resp.json()["muted_until"] is None


def test_send_test_notification(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    resp = client.post(f"{API}/alerts/{alert['id']}/test", headers=acme.headers)
    assert resp.status_code == 200, resp.text
    (delivery,) = resp.json()
    assert delivery["kind"] == "test" and delivery["status"] == "sent"
    assert delivery["alert_id"] == alert["id"] and delivery["channel"] == "log"


def test_secrets_are_write_only_and_kept_on_patch(
    client: TestClient, acme: Tenant, db: Database
) -> None:
    create_metric(client, acme.headers)
    actions = [
        {
            "type": "webhook",
            "url": "https://hooks.example.com/path-token-abc",
            "secret": "hmac-secret-xyz",
            "headers": {"X-Api-Key": "header-secret-123"},
        },
        {"type": "pagerduty", "routing_key": "routingkey0123456789"},
    ]
    made = create_alert(client, acme.headers, "Open Issues", action_config=actions)
    shown = made["action_config"]
    text = str(made)
    for secret in ("path-token-abc", "hmac-secret-xyz", "header-secret-123", "routingkey0123"):
        assert secret not in text
    assert shown[0]["secret"] == REDACTED and shown[1]["routing_key"] == REDACTED
    assert shown[0]["url"] == "https://hooks.example.com/***"

    # Send back what was shown, with one real change: the secrets stay as stored.
    edited = [shown[0] | {"headers": {"X-Api-Key": REDACTED, "X-Team": "ops"}}, shown[1]]
    resp = client.patch(
        f"{API}/alerts/{made['id']}",
        json={"action_config": edited, "threshold_value": 7},
        headers=acme.headers,
    )
    assert resp.status_code == 200, resp.text
    assert "hmac-secret-xyz" not in resp.text
    with db.connect() as conn:
        stored = opened(db.url, AlertStore(conn, acme.org_id).get_alert(made["id"]).action_config)
    assert isinstance(stored, list)
    assert stored[0]["url"] == "https://hooks.example.com/path-token-abc"
    assert stored[0]["secret"] == "hmac-secret-xyz"
    assert stored[0]["headers"] == {"X-Api-Key": "header-secret-123", "X-Team": "ops"}
    assert stored[1]["routing_key"] == "routingkey0123456789"

    # A new secret replaces the old one.
    fresh = [shown[0] | {"secret": "new-secret"}, shown[1]]
    resp = client.patch(
        f"{API}/alerts/{made['id']}", json={"action_config": fresh}, headers=acme.headers
    )
    assert resp.status_code == 200
    with db.connect() as conn:
        stored = opened(db.url, AlertStore(conn, acme.org_id).get_alert(made["id"]).action_config)
    assert isinstance(stored, list) and stored[0]["secret"] == "new-secret"

    # A placeholder that stands for nothing stored is refused, not saved as the secret.
    resp = client.patch(
        f"{API}/alerts/{made['id']}",
        json={"action_config": {"type": "slack", "url": "https://hooks.slack.com/***"}},
        headers=acme.headers,
    )
    assert resp.status_code == 422 and "action_config.url" in fields_of(resp.json())
    resp = client.post(
        f"{API}/alerts",
        json={
            "metric_id": "Open Issues",
            "name": "copy",
            "comparison_op": "gt",
            "threshold_value": 1,
            "action_config": shown,
        },
        headers=acme.headers,
    )
    assert resp.status_code == 422 and "action_config[0].url" in fields_of(resp.json())


def test_bad_input_names_each_field(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    resp = client.post(
        f"{API}/alerts",
        json={
            "metric_id": "Open Issues",
            "name": "",
            "comparison_op": "bigger",
            "threshold_value": "NaN",
            "action_config": {"type": "carrier-pigeon"},
            "lookback": 0,
            "extra": 1,
        },
        headers=acme.headers,
    )
    assert resp.status_code == 422
    errors = fields_of(resp.json())
    assert {"name", "comparison_op", "threshold_value", "lookback", "extra"} <= set(errors)
    assert errors["extra"] == "unknown field"
    assert "'gt'" in errors["comparison_op"]
    # The store checks the action itself and says what it expected.
    resp = client.post(
        f"{API}/alerts",
        json={
            "metric_id": "Open Issues",
            "name": "n",
            "comparison_op": "gt",
            "threshold_value": 1,
            "action_config": {"type": "carrier-pigeon"},
        },
        headers=acme.headers,
    )
    assert resp.status_code == 422
    assert "webhook" in fields_of(resp.json())["action_config.type"]
    resp = client.post(
        f"{API}/alerts",
        json={
            "metric_id": "nope",
            "name": "n",
            "comparison_op": "gt",
            "threshold_value": 1,
            "action_config": {"type": "log"},
        },
        headers=acme.headers,
    )
    assert resp.status_code == 422 and "metric_id" in fields_of(resp.json())


def test_duplicate_name_is_a_conflict(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    create_alert(client, acme.headers, "Open Issues")
    other = create_alert(client, acme.headers, "Open Issues", name="Second")
    resp = client.post(
        f"{API}/alerts",
        json={
            "metric_id": "Open Issues",
            "name": "Notify if Issues > 5",
            "comparison_op": "gt",
            "threshold_value": 1,
            "action_config": {"type": "log"},
        },
        headers=acme.headers,
    )
    assert resp.status_code == 409
    resp = client.patch(
        f"{API}/alerts/{other['id']}", json={"name": "Notify if Issues > 5"}, headers=acme.headers
    )
    assert resp.status_code == 409
