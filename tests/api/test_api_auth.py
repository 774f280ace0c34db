"""API keys: bearer auth on every /api/v1 route, and ``tocsin apikey`` on the CLI."""

from __future__ import annotations

import hashlib

import pytest
from api_support import API, Tenant
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from tests.helpers import run_cli

from tocsin.api.auth import KeyCache, authenticate, revoke_api_key
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import api_keys

ROUTES = [
    ("GET", "/metrics"),
    ("POST", "/metrics"),
    ("GET", "/metrics/x"),
    ("PATCH", "/metrics/x"),
    ("DELETE", "/metrics/x"),
    ("POST", "/metrics/x/run"),
    ("POST", "/metrics/x/values"),
    ("GET", "/metrics/x/executions"),
    ("GET", "/alerts"),
    ("POST", "/alerts"),
    ("GET", "/alerts/x"),
    ("PATCH", "/alerts/x"),
    ("DELETE", "/alerts/x"),
    ("GET", "/alerts/x/history"),
    ("POST", "/alerts/x/test"),
    ("POST", "/alerts/x/mute"),
    ("POST", "/alerts/x/unmute"),
    ("GET", "/deliveries"),
    ("POST", "/deliveries/x/retry"),
    ("POST", "/chat"),
]


def test_every_route_needs_a_valid_key(client: TestClient, acme: Tenant, db: Database) -> None:
    wrong_secret = acme.key[:-4] + ("aaaa" if not acme.key.endswith("aaaa") else "bbbb")
    candidates = {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {acme.key}"},
        "garbage": {"Authorization": "Bearer nonsense"},
        "wrong secret": {"Authorization": f"Bearer {wrong_secret}"},
        "unknown prefix": {"Authorization": "Bearer tsn_000000000000_" + "a" * 43},
    }
    for method, path in ROUTES:
        for label, headers in candidates.items():
            resp = client.request(method, API + path, headers=headers, json={})
            assert resp.status_code == 401, (method, path, label)
            assert resp.headers["www-authenticate"] == "Bearer"
            assert acme.key not in resp.text
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 200

    with db.begin() as conn:
        key_id = authenticate(conn, acme.key)
        assert key_id is not None
        revoke_api_key(conn, acme.org_id, key_id.id)
    for method, path in ROUTES:
        resp = client.request(method, API + path, headers=acme.headers, json={})
        assert resp.status_code == 401, (method, path)


def test_a_key_revoked_in_this_process_is_refused_at_once(
    client: TestClient, acme: Tenant, db: Database
) -> None:
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 200
    with db.begin() as conn:
        found = authenticate(conn, acme.key)
        assert found is not None
        revoke_api_key(conn, acme.org_id, found.id)
    # The key authenticated a moment ago and is still cached; revoking forgets it.
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 401


def test_a_key_revoked_by_another_process_is_refused_once_the_cache_expires(
    app: FastAPI, client: TestClient, acme: Tenant, db: Database
) -> None:
    now = [0.0]
    app.state.key_cache = KeyCache(clock=lambda: now[0])
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 200
    # As `tocsin apikey revoke` in another process does it: no in-process signal.
    with db.begin() as conn:
        conn.execute(
            update(api_keys).where(api_keys.c.org_id == acme.org_id).values(revoked_at=utcnow())
        )
    now[0] += KeyCache().seconds / 2
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 200
    now[0] += KeyCache().seconds
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 401
    # A refusal is not cached either way: the next request reads the row again.
    assert client.get(f"{API}/metrics", headers=acme.headers).status_code == 401


def test_only_a_hash_is_stored_and_use_is_recorded(
    client: TestClient, acme: Tenant, db: Database
) -> None:
    client.get(f"{API}/metrics", headers=acme.headers)
    with db.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.org_id == acme.org_id)).one()
    assert row.key_hash == hashlib.sha256(acme.key.encode()).hexdigest()
    assert acme.key.startswith(f"tsn_{row.prefix}_")
    assert row.last_used_at is not None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_create_list_revoke(db_url: str, db: Database) -> None:
    made = run_cli(db_url, "apikey", "create", "--name", "grafana", "--json", org="initech")
    assert made.exit_code == 0, made.stderr
    data = made.json()
    assert set(data) == {"id", "name", "org", "role", "key"}
    assert data["org"] == "initech" and data["name"] == "grafana"
    with db.begin() as conn:
        found = authenticate(conn, data["key"])
    assert found is not None and str(found.id) == data["id"]

    human = run_cli(db_url, "apikey", "create", "--name", "ci", org="initech")
    assert (
        human.exit_code == 0 and "tsn_" in human.stdout and "cannot show it again" in human.stdout
    )

    listed = run_cli(db_url, "apikey", "list", "--json", org="initech")
    assert listed.exit_code == 0
    keys = listed.json()
    assert [k["name"] for k in keys] == ["grafana", "ci"]
    assert data["key"] not in listed.stdout and "key_hash" not in listed.stdout
    assert run_cli(db_url, "apikey", "list", "--json", org="other").json() == []

    # Another org cannot revoke it; its own org can, by ID.
    assert run_cli(db_url, "apikey", "revoke", data["id"], org="other").exit_code == 2
    revoked = run_cli(db_url, "apikey", "revoke", data["id"], "--json", org="initech")
    assert revoked.exit_code == 0 and revoked.json()["revoked_at"] is not None
    with db.begin() as conn:
        assert authenticate(conn, data["key"]) is None
    bad = run_cli(db_url, "apikey", "create", "--name", " ", org="initech")
    assert bad.exit_code == 2 and "name" in bad.stderr
