"""Roles on API keys: a viewer only reads, an editor changes what Tocsin watches, an
admin also holds the credentials. A role too small is a 403 in the key's own org;
another org's object stays a 404 whatever the role."""

from __future__ import annotations

import re
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
from tocsin.db.schema import (
    alerts,
    api_keys,
    credentials,
    metric_executions,
    metrics,
    notification_deliveries,
)
from tocsin.errors import InvalidInput
from tocsin.orgs import get_or_create_org
from tocsin.roles import role_allows

WRITES = ("post", "put", "patch", "delete")
# What each kind of object's routes need; anything else in /openapi.json fails the walk
# until it is added here.
NEEDS = {"metrics": "editor", "alerts": "editor", "deliveries": "editor", "chat": "editor",
         "credentials": "admin"}  # fmt: skip
_PARAM = re.compile(r"\{[a-z_]+\}")


def _objects(client: TestClient, db: Database, org: str) -> dict[str, str]:
    """A metric, an alert on it, a delivery of that alert and a credential, made in
    ``org`` by an admin's key (the org's editor key is the ``acme``/``globex`` fixture)."""
    admin = make_tenant(db, org, "admin")
    metric = create_metric(client, admin.headers)
    alert = create_alert(client, admin.headers, metric["id"])
    pushed = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=admin.headers
    )
    assert pushed.status_code == 200, pushed.text
    # Credential names differ by org: the same name in the caller's org would be found.
    name = f"{org.upper()}_DB"
    made = client.post(
        f"{API}/credentials", json={"name": name, "value": "sqlite:///x.db"}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    with db.connect() as conn:
        delivery = conn.execute(
            select(notification_deliveries.c.id).where(
                notification_deliveries.c.org_id == admin.org_id
            )
        ).scalar_one()
    return {
        "metrics": metric["id"],
        "alerts": alert["id"],
        "deliveries": str(delivery),
        "credentials": name,
    }


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
        ("post", "/api/v1/credentials"): {"name": "NEW_ONE", "value": "s3cret"},
    }


def _routes(client: TestClient, methods: tuple[str, ...] = WRITES) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in methods and path.startswith(API)
    ]


def _kind(path: str) -> str:
    return path.removeprefix(f"{API}/").split("/")[0]


def _has_id(path: str) -> bool:
    return _PARAM.search(path) is not None


def _fill(path: str, ids: dict[str, str]) -> str:
    return _PARAM.sub(ids[_kind(path)], path) if _has_id(path) else path


def _state(client: TestClient, db: Database, org_id: uuid.UUID) -> dict[str, Any]:
    """What a write could have changed in the org, read from the database."""
    with db.connect() as conn:
        counts = {
            table.name: conn.execute(
                select(func.count()).select_from(table).where(table.c.org_id == org_id)
            ).scalar_one()
            for table in (metrics, alerts, metric_executions, notification_deliveries, credentials)
        }
        changed = conn.execute(
            select(metrics.c.description, alerts.c.description, alerts.c.muted_until)
            .join(alerts, alerts.c.metric_id == metrics.c.id)
            .where(metrics.c.org_id == org_id)
        ).all()
        statuses = conn.execute(
            select(notification_deliveries.c.status).where(
                notification_deliveries.c.org_id == org_id
            )
        ).all()
    return {"counts": counts, "changed": changed, "statuses": statuses}


def _article(role: str) -> str:
    return "an" if role[0] in "aeiou" else "a"


def test_role_order() -> None:
    assert role_allows("admin", "editor") and role_allows("editor", "viewer")
    assert role_allows("viewer", "viewer") and not role_allows("viewer", "editor")
    assert not role_allows("editor", "admin") and not role_allows("superuser", "viewer")


def _walk(client: TestClient, who: Tenant, have: str, mine: dict[str, str],
          theirs: dict[str, str], routes: list[tuple[str, str]]) -> int:  # fmt: skip
    """Every route of ``routes`` beyond ``have``'s role: a 403 on the org's own objects,
    a 404 on the other org's. How many were refused."""
    bodies = _bodies(mine["metrics"])
    refused = 0
    for method, path in routes:
        kind = _kind(path)
        assert kind in NEEDS, f"{method} {path}: which role does it need? (add it to NEEDS)"
        if role_allows(have, NEEDS[kind]):
            continue
        body = bodies.get((method, path))
        own = client.request(method.upper(), _fill(path, mine), json=body, headers=who.headers)
        expected = f"role {NEEDS[kind]} needed; this key is {_article(have)} {have}"
        assert own.status_code == 403, (method, path, own.text)
        assert own.json() == {"detail": expected}, (method, path)
        refused += 1
        if _has_id(path):
            other = client.request(
                method.upper(), _fill(path, theirs), json=body, headers=who.headers
            )
            assert other.status_code == 404, (method, path, other.text)
            assert "not found" in other.json()["detail"]
    return refused


def test_a_viewer_is_refused_every_write_and_never_sees_another_orgs_objects(
    client: TestClient, db: Database, acme: Tenant, globex: Tenant
) -> None:
    viewer = make_tenant(db, "acme", "viewer")
    mine, theirs = _objects(client, db, "acme"), _objects(client, db, "globex")
    before, theirs_before = _state(client, db, acme.org_id), _state(client, db, globex.org_id)

    refused = _walk(client, viewer, "viewer", mine, theirs, _routes(client))
    assert refused >= 15  # metrics 5, alerts 6, deliveries 1, chat 1, credentials 2
    assert _state(client, db, acme.org_id) == before
    assert _state(client, db, globex.org_id) == theirs_before

    # Reading is what a viewer is for; credentials are not for reading, even by name.
    for path in ("metrics", f"metrics/{mine['metrics']}", f"metrics/{mine['metrics']}/executions",
                 "alerts", f"alerts/{mine['alerts']}", f"alerts/{mine['alerts']}/history",
                 "deliveries"):  # fmt: skip
        assert client.get(f"{API}/{path}", headers=viewer.headers).status_code == 200, path
    assert client.get(f"{API}/alerts/{theirs['alerts']}", headers=viewer.headers).status_code == 404
    assert client.get(f"{API}/credentials", headers=viewer.headers).status_code == 403


def test_an_editor_changes_what_a_viewer_cannot_and_never_reaches_credentials(
    client: TestClient, db: Database, acme: Tenant, globex: Tenant
) -> None:
    mine, theirs = _objects(client, db, "acme"), _objects(client, db, "globex")
    every = _routes(client, ("get", *WRITES))
    credential_routes = [r for r in every if _kind(r[1]) == "credentials"]
    assert len(credential_routes) >= 3
    # Credentials, reads included: 403 in its org, 404 for another org's.
    assert _walk(client, acme, "editor", mine, theirs, every) == len(credential_routes)

    bodies = _bodies(mine["metrics"])
    # Deletes last, the metric's after its alert's: the other routes need the objects.
    order = sorted(_routes(client), key=lambda r: (r[0] == "delete", _kind(r[1])))
    for method, path in order:
        if NEEDS[_kind(path)] != "editor":
            continue
        resp = client.request(
            method.upper(), _fill(path, mine), json=bodies.get((method, path)), headers=acme.headers
        )
        # Allowed: it may still be bad input here (a sent delivery is not retried, a push
        # metric is not run), but never refused for its role.
        assert resp.status_code not in (401, 403, 404), (method, path, resp.text)
        if method == "post" and not _has_id(path) and _kind(path) != "chat":
            assert resp.status_code == 201, (method, path, resp.text)
    # An editor's metric may name a credential it cannot read.
    sql = {"type": "sql", "sql": "select 1 as n", "dsn_credential": mine["credentials"]}
    named = client.post(
        f"{API}/metrics",
        json={"name": "Uses a credential", "source": sql, "schedule": {"every_seconds": 3600}},
        headers=acme.headers,
    )
    assert named.status_code == 201, named.text
    admin = make_tenant(db, "acme", "admin")
    listed = client.get(f"{API}/credentials", headers=admin.headers)
    assert listed.status_code == 200 and mine["credentials"] in listed.text


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
