"""Roles on API keys: a viewer only reads, an editor changes what Tocsin watches, an
admin also holds the credentials. A role too small is a 403 in the key's own org;
another org's object stays a 404 whatever the role."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from api_support import API, Tenant, create_alert, create_metric, make_tenant
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from tocsin.api.auth import authenticate, create_api_key, hash_key, new_key
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.migrate import upgrade
from tocsin.db.schema import api_keys, metric_executions, notification_deliveries
from tocsin.errors import InvalidInput
from tocsin.orgs import get_or_create_org
from tocsin.roles import role_allows

WRITES = ("post", "put", "patch", "delete")
# Kinds of object the walk below can make; a route on any other kind must be one the
# lead merges from another branch (credentials), checked by what it answers alone.
KNOWN_KINDS = {"metrics", "alerts", "deliveries"}


def _objects(client: TestClient, tenant: Tenant, db: Database) -> dict[str, str]:
    """A metric, an alert on it and a delivery of that alert, in the tenant's org."""
    metric = create_metric(client, tenant.headers)
    alert = create_alert(client, tenant.headers, metric["id"])
    pushed = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=tenant.headers
    )
    assert pushed.status_code == 200, pushed.text
    with db.connect() as conn:
        delivery = conn.execute(
            select(notification_deliveries.c.id).where(
                notification_deliveries.c.org_id == tenant.org_id
            )
        ).scalar_one()
    return {"metrics": metric["id"], "alerts": alert["id"], "deliveries": str(delivery)}


def _bodies(metric_id: str) -> dict[tuple[str, str], Any]:
    """A valid body for each write route, so that a refusal is the role's, not the
    body's (the editor sends the same bodies and is not refused)."""
    return {
        ("post", "/api/v1/metrics"): {"name": "Another Metric", "source": {"type": "push"}},
        ("patch", "/api/v1/metrics/{id}"): {"description": "changed"},
        ("post", "/api/v1/metrics/{id}/values"): {"value": 7},
        ("post", "/api/v1/alerts"): {
            "metric_id": metric_id,
            "name": "Another alert",
            "comparison_op": "lt",
            "threshold_value": 1,
            "action_config": {"type": "log"},
        },
        ("patch", "/api/v1/alerts/{id}"): {"description": "changed"},
        ("post", "/api/v1/alerts/{id}/mute"): {"for_seconds": 3600},
        ("post", "/api/v1/chat"): {"message": "Notify me if Open Issues > 9", "confirm": True},
    }


def _write_routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    found = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in WRITES and path.startswith(API)
    ]
    assert len(found) >= 13, found
    return found


def _kind(path: str) -> str:
    return path.removeprefix(f"{API}/").split("/")[0]


def _fill(path: str, ids: dict[str, str]) -> str:
    return path.replace("{id}", ids.get(_kind(path), str(uuid.uuid4())))


def _state(client: TestClient, tenant: Tenant, db: Database) -> dict[str, Any]:
    """What a write could have changed in the tenant's org."""
    metrics = client.get(f"{API}/metrics", headers=tenant.headers).json()["items"]
    alerts = client.get(f"{API}/alerts", headers=tenant.headers).json()["items"]
    deliveries = client.get(f"{API}/deliveries", headers=tenant.headers).json()["items"]
    with db.connect() as conn:
        runs = conn.execute(
            select(func.count())
            .select_from(metric_executions)
            .where(metric_executions.c.org_id == tenant.org_id)
        ).scalar_one()
    return {
        "metrics": [(m["id"], m["name"], m["description"]) for m in metrics],
        "alerts": [(a["id"], a["description"], a["muted_until"]) for a in alerts],
        "deliveries": [(d["id"], d["status"]) for d in deliveries],
        "runs": runs,
    }


def test_role_order() -> None:
    assert role_allows("admin", "editor") and role_allows("editor", "viewer")
    assert role_allows("viewer", "viewer") and not role_allows("viewer", "editor")
    assert not role_allows("editor", "admin") and not role_allows("superuser", "viewer")


def test_a_viewer_is_refused_every_write_and_never_sees_another_orgs_objects(
    client: TestClient, db: Database, acme: Tenant, globex: Tenant
) -> None:
    viewer = make_tenant(db, "acme", "viewer")
    mine = _objects(client, acme, db)
    theirs = _objects(client, globex, db)
    bodies = _bodies(mine["metrics"])
    before, theirs_before = _state(client, acme, db), _state(client, globex, db)

    refused, elsewhere = [], []
    for method, path in _write_routes(client):
        body = bodies.get((method, path))
        own = client.request(method.upper(), _fill(path, mine), json=body, headers=viewer.headers)
        if _kind(path) in KNOWN_KINDS or "{id}" not in path:
            assert own.status_code == 403, (method, path, own.text)
            assert own.json() == {"detail": "role editor needed; this key is a viewer"} or (
                own.json()["detail"].startswith("role admin needed")
            ), (method, path, own.text)
            refused.append((method, path))
        else:
            # An object kind this walk cannot make (merged from another branch): no
            # object of that ID in the viewer's org, so not found or refused, never done.
            assert own.status_code in (403, 404), (method, path, own.text)
        if "{id}" in path:
            other = client.request(
                method.upper(), _fill(path, theirs), json=body, headers=viewer.headers
            )
            assert other.status_code == 404, (method, path, other.text)
            assert "not found" in other.json()["detail"]
            elsewhere.append((method, path))
    assert len(refused) >= 13 and len(elsewhere) >= 9
    assert _state(client, acme, db) == before
    assert _state(client, globex, db) == theirs_before

    # Reading is what a viewer is for.
    for path in ("metrics", f"metrics/{mine['metrics']}", f"metrics/{mine['metrics']}/executions",
                 "alerts", f"alerts/{mine['alerts']}", f"alerts/{mine['alerts']}/history",
                 "deliveries"):  # fmt: skip
        assert client.get(f"{API}/{path}", headers=viewer.headers).status_code == 200, path
    assert client.get(f"{API}/alerts/{theirs['alerts']}", headers=viewer.headers).status_code == 404


def test_an_editor_changes_what_a_viewer_cannot(
    client: TestClient, db: Database, acme: Tenant
) -> None:
    mine = _objects(client, acme, db)
    bodies = _bodies(mine["metrics"])
    # Deletes last, the metric's after its alert's: the other routes need the objects.
    order = sorted(_write_routes(client), key=lambda r: (r[0] == "delete", _kind(r[1])))
    for method, path in order:
        if _kind(path) not in KNOWN_KINDS | {"chat"}:
            continue
        resp = client.request(
            method.upper(), _fill(path, mine), json=bodies.get((method, path)), headers=acme.headers
        )
        # Allowed: it may still be bad input here (a sent delivery is not retried, a push
        # metric is not run), but never refused for its role.
        assert resp.status_code not in (401, 403, 404), (method, path, resp.text)
        if (method, path) == ("post", "/api/v1/metrics"):
            assert resp.status_code == 201
    metric = create_metric(client, acme.headers, name="Editors Make Metrics")
    create_alert(client, acme.headers, metric["id"], name="And alerts")


def test_an_editor_never_reaches_credentials_or_keys(
    client: TestClient, db: Database, acme: Tenant
) -> None:
    schema = client.get("/openapi.json").json()
    guarded = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if _kind(path) in ("credentials", "api-keys", "apikeys", "keys")
    ]
    if not guarded:
        pytest.skip("no credentials or API key routes in this build's /openapi.json yet")
    admin = make_tenant(db, "acme", "admin")
    for method, path in guarded:
        url = path.replace("{id}", str(uuid.uuid4()))
        resp = client.request(method.upper(), url, json={}, headers=acme.headers)
        if "{id}" in path:
            assert resp.status_code in (403, 404), (method, path, resp.text)
        else:
            assert resp.status_code == 403, (method, path, resp.text)
            assert resp.json()["detail"] == "role admin needed; this key is an editor"
            allowed = client.request(method.upper(), url, json={}, headers=admin.headers)
            assert allowed.status_code != 403, (method, path, allowed.text)


def test_chat_plans_for_a_viewer_and_saves_for_an_editor(
    client: TestClient, db: Database, acme: Tenant
) -> None:
    viewer = make_tenant(db, "acme", "viewer")
    create_metric(client, acme.headers)
    ask = {"message": "Notify me if Open Issues > 5"}
    planned = client.post(f"{API}/chat", json=ask, headers=viewer.headers)
    assert planned.status_code == 200, planned.text
    assert planned.json()["saved"] is None
    dry = client.post(f"{API}/chat", json=ask | {"confirm": True, "dry_run": True},
                      headers=viewer.headers)  # fmt: skip
    assert dry.status_code == 200
    saved = client.post(f"{API}/chat", json=ask | {"confirm": True}, headers=viewer.headers)
    assert saved.status_code == 403
    assert client.get(f"{API}/alerts", headers=viewer.headers).json()["items"] == []
    by_editor = client.post(f"{API}/chat", json=ask | {"confirm": True}, headers=acme.headers)
    assert by_editor.status_code == 200 and by_editor.json()["saved"] is not None


def test_keys_carry_their_role(db: Database) -> None:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "acme")
        made, key = create_api_key(conn, org_id, "default")
        viewer, viewer_key = create_api_key(conn, org_id, "ro", "viewer")
        with pytest.raises(InvalidInput) as bad:
            create_api_key(conn, org_id, "boss", "owner")
        assert bad.value.field == "role"
    assert made.role == "editor" and viewer.role == "viewer"
    with db.connect() as conn:
        found = authenticate(conn, viewer_key, touch=False)
        assert found is not None and found.role == "viewer"
        assert found.public()["role"] == "viewer"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    url: str = request.getfixturevalue("fresh_pg")
    return url


def test_keys_made_before_roles_become_admin(empty_url: str) -> None:
    db = Database(empty_url)
    try:
        upgrade(db.engine, "0004")
        old_key, prefix = new_key()
        with db.begin() as conn:
            org_id = get_or_create_org(conn, "acme")
            # As 0004 stored a key: no role column yet.
            conn.execute(
                insert(api_keys).values(
                    id=uuid.uuid4(),
                    org_id=org_id,
                    name="from before roles",
                    prefix=prefix,
                    key_hash=hash_key(old_key),
                    created_at=utcnow(),
                )
            )
        upgrade(db.engine)
        with db.begin() as conn:
            found = authenticate(conn, old_key)
            _, new = create_api_key(conn, org_id, "after roles")
            fresh = authenticate(conn, new)
        assert found is not None and found.role == "admin"
        assert fresh is not None and fresh.role == "editor"
    finally:
        db.dispose()
