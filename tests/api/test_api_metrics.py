"""/api/v1/metrics on SQLite and PostgreSQL: CRUD, paging, runs, pushed values."""

from __future__ import annotations

from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient
from tests.helpers import opened_headers

from tocsin.credentials import CredentialStore
from tocsin.db.database import Database
from tocsin.metrics.model import REDACTED
from tocsin.metrics.store import MetricStore

METRIC_KEYS = {
    "id",
    "org_id",
    "name",
    "description",
    "source",
    "selector",
    "schedule",
    "enabled",
    "next_run_at",
    "created_at",
    "updated_at",
    "expect_every_seconds",
}


def test_create_show_list_patch_delete(client: TestClient, acme: Tenant) -> None:
    made = create_metric(client, acme.headers, description="GitHub issues")
    assert set(made) == METRIC_KEYS
    assert made["org_id"] == str(acme.org_id)
    assert made["source"]["type"] == "push"
    assert made["schedule"] is None and made["next_run_at"] is None

    by_id = client.get(f"{API}/metrics/{made['id']}", headers=acme.headers)
    by_name = client.get(f"{API}/metrics/Open Issues", headers=acme.headers)
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json() == made

    listed = client.get(f"{API}/metrics", headers=acme.headers)
    assert listed.status_code == 200
    assert listed.json() == {"items": [made], "next_cursor": None}

    changed = client.patch(
        f"{API}/metrics/{made['id']}",
        json={"description": "all repos", "enabled": False},
        headers=acme.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["description"] == "all repos" and body["enabled"] is False
    assert body["name"] == "Open Issues" and body["updated_at"] >= made["updated_at"]

    gone = client.delete(f"{API}/metrics/{made['id']}", headers=acme.headers)
    assert gone.status_code == 200
    assert gone.json()["deleted"]["id"] == made["id"]
    assert client.get(f"{API}/metrics/{made['id']}", headers=acme.headers).status_code == 404
    assert client.delete(f"{API}/metrics/{made['id']}", headers=acme.headers).status_code == 404


def test_patch_schedule_and_source_type(client: TestClient, acme: Tenant) -> None:
    demo = create_metric(
        client,
        acme.headers,
        name="Demo",
        source={"type": "demo", "values": [1, 2]},
        schedule={"every_seconds": 60},
    )
    assert demo["schedule"] == {"every_seconds": 60} and demo["next_run_at"] is not None
    resp = client.patch(
        f"{API}/metrics/Demo", json={"schedule": {"cron": "*/5 * * * *"}}, headers=acme.headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["schedule"] == {"cron": "*/5 * * * *"}
    # A push metric takes no schedule: the whole result is validated, not just the change.
    resp = client.patch(
        f"{API}/metrics/Demo", json={"source": {"type": "push"}}, headers=acme.headers
    )
    assert resp.status_code == 422
    assert "schedule" in fields_of(resp.json())
    resp = client.patch(
        f"{API}/metrics/Demo",
        json={"source": {"type": "push"}, "schedule": None},
        headers=acme.headers,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["schedule"] is None and resp.json()["next_run_at"] is None


def test_patch_keeps_redacted_header_secrets(
    client: TestClient, acme: Tenant, db: Database
) -> None:
    with db.begin() as conn:
        CredentialStore(conn, acme.org_id).save("TEAM_VAR", "team-7")
    source = {
        "type": "http",
        "url": "https://api.example.com/count",
        "headers": {"Authorization": "Bearer literal-token-123", "X-Team": "${cred:TEAM_VAR}"},
    }
    made = create_metric(
        client, acme.headers, name="Remote", source=source, schedule={"every_seconds": 60}
    )
    assert made["source"]["headers"] == {"Authorization": REDACTED, "X-Team": "${cred:TEAM_VAR}"}
    assert "literal-token-123" not in str(made)

    shown = made["source"] | {"url": "https://api.example.com/v2/count"}
    resp = client.patch(f"{API}/metrics/Remote", json={"source": shown}, headers=acme.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"]["url"].endswith("/v2/count")
    with db.connect() as conn:
        stored = MetricStore(conn, acme.org_id).get("Remote").source
    assert opened_headers(db.url, stored)["Authorization"] == "Bearer literal-token-123"

    # A placeholder with no stored value behind it would become the secret: refused.
    bad = shown | {"headers": {"X-New": REDACTED}}
    resp = client.patch(f"{API}/metrics/Remote", json={"source": bad}, headers=acme.headers)
    assert resp.status_code == 422
    assert "source.headers.X-New" in fields_of(resp.json())


def test_list_pages_with_cursor(client: TestClient, acme: Tenant) -> None:
    names = [f"m{i:02d}" for i in range(7)]
    for name in reversed(names):
        create_metric(client, acme.headers, name=name)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        resp = client.get(f"{API}/metrics", params=params, headers=acme.headers)
        assert resp.status_code == 200
        body = resp.json()
        seen += [m["name"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == names and pages == 3
    bad = client.get(f"{API}/metrics", params={"cursor": "nonsense"}, headers=acme.headers)
    assert bad.status_code == 422 and "cursor" in fields_of(bad.json())
    for limit in (0, 501):
        resp = client.get(f"{API}/metrics", params={"limit": limit}, headers=acme.headers)
        assert resp.status_code == 422 and "limit" in fields_of(resp.json())


def test_values_answer_like_metric_run(client: TestClient, acme: Tenant) -> None:
    metric = create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, metric["id"])
    resp = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=acme.headers
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert set(report) == {"execution", "evaluations", "deliveries"}
    assert report["execution"]["value"] == 6 and report["execution"]["trigger"] == "push"
    assert report["execution"]["status"] == "completed"
    (evaluation,) = report["evaluations"]
    assert evaluation["alert_id"] == alert["id"]
    assert evaluation["state_to"] == "triggered" and evaluation["notified"] is True
    (delivery,) = report["deliveries"]
    assert delivery["channel"] == "log" and delivery["status"] == "sent"

    # Any JSON is a reading; the selector (none here) decides, and a table works too.
    table = {"columns": ["n"], "rows": [[2]]}
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": table}, headers=acme.headers
    )
    assert resp.status_code == 200
    assert resp.json()["execution"]["value"] == 2
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": "abc"}, headers=acme.headers
    )
    # A value no alert could read is refused at the door (issue 14), nothing recorded.
    assert resp.status_code == 422 and "value" in fields_of(resp.json())

    resp = client.post(f"{API}/metrics/Open Issues/values", json={}, headers=acme.headers)
    assert resp.status_code == 422 and fields_of(resp.json()) == {
        "value": "required field is missing"
    }
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": "1e999999"}, headers=acme.headers
    )
    assert resp.status_code == 422 and "value" in fields_of(resp.json())


def test_run_and_executions(client: TestClient, acme: Tenant) -> None:
    push = create_metric(client, acme.headers)
    resp = client.post(f"{API}/metrics/{push['id']}/run", headers=acme.headers)
    assert resp.status_code == 422 and "id" in fields_of(resp.json())

    create_metric(
        client,
        acme.headers,
        name="Demo",
        source={"type": "demo", "values": [3, 9]},
        schedule={"every_seconds": 3600},
    )
    first = client.post(f"{API}/metrics/Demo/run", headers=acme.headers)
    assert first.status_code == 200, first.text
    assert first.json()["execution"]["trigger"] == "manual"
    assert first.json()["execution"]["status"] == "completed"
    second = client.post(f"{API}/metrics/Demo/run", headers=acme.headers)
    assert second.status_code == 200

    resp = client.get(f"{API}/metrics/Demo/executions", params={"limit": 1}, headers=acme.headers)
    assert resp.status_code == 200
    page1 = resp.json()
    assert [e["id"] for e in page1["items"]] == [second.json()["execution"]["id"]]
    resp = client.get(
        f"{API}/metrics/Demo/executions",
        params={"limit": 1, "cursor": page1["next_cursor"]},
        headers=acme.headers,
    )
    page2 = resp.json()
    assert [e["id"] for e in page2["items"]] == [first.json()["execution"]["id"]]
    assert page2["next_cursor"] is None
    assert set(page2["items"][0]) == {
        "id",
        "metric_id",
        "status",
        "trigger",
        "scheduled_for",
        "started_at",
        "completed_at",
        "result",
        "value",
        "error",
    }
    missing = client.get(f"{API}/metrics/nope/executions", headers=acme.headers)
    assert missing.status_code == 404


def test_bad_input_names_each_field(client: TestClient, acme: Tenant) -> None:
    resp = client.post(
        f"{API}/metrics",
        json={"name": "x" * 201, "colour": "red", "schedule": {"every_seconds": 0}},
        headers=acme.headers,
    )
    assert resp.status_code == 422
    errors = fields_of(resp.json())
    assert errors["colour"] == "unknown field"
    assert errors["source"] == "required field is missing"
    assert "200 characters" in errors["name"]
    assert "schedule.every_seconds" in errors
    resp = client.post(
        f"{API}/metrics", json={"name": "x", "source": {"type": "nope"}}, headers=acme.headers
    )
    assert resp.status_code == 422 and "source.type" in fields_of(resp.json())
    resp = client.post(
        f"{API}/metrics",
        json={"name": "x", "source": {"type": "push", "padding": "x" * 20000}},
        headers=acme.headers,
    )
    assert resp.status_code == 422 and "KiB" in fields_of(resp.json())["source"]
    resp = client.patch(f"{API}/metrics/nope", json={"name": None}, headers=acme.headers)
    assert resp.status_code == 422 and "null" in fields_of(resp.json())["name"]


def test_duplicate_name_is_a_conflict(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    other = create_metric(client, acme.headers, name="Other")
    resp = client.post(
        f"{API}/metrics",
        json={"name": "Open Issues", "source": {"type": "push"}},
        headers=acme.headers,
    )
    assert resp.status_code == 409 and "already exists" in resp.json()["detail"]
    resp = client.patch(
        f"{API}/metrics/{other['id']}", json={"name": "Open Issues"}, headers=acme.headers
    )
    assert resp.status_code == 409
