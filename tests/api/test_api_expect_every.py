"""``expect_every_seconds`` through /api/v1/metrics on SQLite and PostgreSQL: set on
create, changed and turned off by PATCH, bad values refused naming the field, and the
``missing`` runs it causes in the metric's executions."""

from __future__ import annotations

from datetime import timedelta

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient
from sqlalchemy import update

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.silence import record_missing_runs
from tocsin.settings import Settings


def test_the_switch_is_set_changed_and_turned_off(client: TestClient, acme: Tenant) -> None:
    made = create_metric(client, acme.headers, expect_every_seconds=600)
    assert made["expect_every_seconds"] == 600
    url = f"{API}/metrics/{made['id']}"
    assert client.get(url, headers=acme.headers).json()["expect_every_seconds"] == 600

    changed = client.patch(url, json={"expect_every_seconds": 60}, headers=acme.headers)
    assert changed.status_code == 200 and changed.json()["expect_every_seconds"] == 60
    other = client.patch(url, json={"description": "heartbeat"}, headers=acme.headers)
    assert other.json()["expect_every_seconds"] == 60
    off = client.patch(url, json={"expect_every_seconds": None}, headers=acme.headers)
    assert off.status_code == 200 and off.json()["expect_every_seconds"] is None
    assert create_metric(client, acme.headers, name="plain")["expect_every_seconds"] is None


def test_a_bad_period_is_refused_and_changes_nothing(client: TestClient, acme: Tenant) -> None:
    for bad in (0, -5, 366 * 86400 + 1, "10m", True):
        body = {"name": "Heartbeat", "source": {"type": "push"}, "expect_every_seconds": bad}
        refused = client.post(f"{API}/metrics", json=body, headers=acme.headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert "expect_every_seconds" in fields_of(refused.json()), (bad, refused.text)
    assert client.get(f"{API}/metrics", headers=acme.headers).json()["items"] == []

    made = create_metric(client, acme.headers, expect_every_seconds=600)
    url = f"{API}/metrics/{made['id']}"
    refused = client.patch(
        url, json={"expect_every_seconds": 0, "description": "x"}, headers=acme.headers
    )
    assert refused.status_code == 422
    assert "expect_every_seconds" in fields_of(refused.json())
    assert client.get(url, headers=acme.headers).json() == made


def test_a_missing_run_is_listed_with_the_metric_executions(
    client: TestClient, acme: Tenant, db: Database, api_settings: Settings
) -> None:
    made = create_metric(client, acme.headers, expect_every_seconds=600)
    alert = create_alert(client, acme.headers, made["id"])
    with db.begin() as conn:
        past = utcnow() - timedelta(seconds=1)
        conn.execute(update(metrics).values(missing_due_at=past))
    record_missing_runs(db, api_settings)

    listed = client.get(f"{API}/metrics/{made['id']}/executions", headers=acme.headers).json()
    [run] = listed["items"]
    assert (run["status"], run["trigger"], run["value"], run["error"]) == (
        "missing",
        "schedule",
        None,
        "no value received for 10m",
    )
    shown = client.get(f"{API}/alerts/{alert['id']}", headers=acme.headers).json()
    assert shown["state"] == "no_data"
