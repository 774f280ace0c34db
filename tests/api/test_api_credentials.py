"""Credentials and the holes they close: a tenant's metric source can reach only its own
org's secrets, never the server's environment or Tocsin's own database.

Given/when/then, as an attacker holding org globex's API key would try it."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from api_support import API, Tenant, create_metric, fields_of, make_tenant
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings, get_settings

ACME_SECRET = "postgresql://acme-reader:s3cr3t-acme-pw@db.acme.internal/shop"
LEAKY_TABLE = "select name, action_config from alerts"


def set_credential(
    client: TestClient, who: Tenant, name: str, value: str, status: int = 201
) -> dict[str, Any]:
    resp = client.post(
        f"{API}/credentials", json={"name": name, "value": value}, headers=who.headers
    )
    assert resp.status_code == status, resp.text
    data: dict[str, Any] = resp.json()
    return data


def sql_metric(name: str, sql: str = "select 6 as n", **source: Any) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"type": "sql", "sql": sql, **source},
        "schedule": {"every_seconds": 3600},
    }


def run(client: TestClient, who: Tenant, metric_id: str) -> dict[str, Any]:
    resp = client.post(f"{API}/metrics/{metric_id}/run", headers=who.headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()["execution"]
    return data


# Both orgs' keys manage credentials here, which only an admin's may (test_api_roles
# has the editor's and viewer's refusals).
@pytest.fixture
def acme(db: Database) -> Tenant:
    return make_tenant(db, "acme", "admin")


@pytest.fixture
def globex(db: Database) -> Tenant:
    return make_tenant(db, "globex", "admin")


@pytest.fixture
def shop_db(tmp_path: Path) -> str:
    """A tenant's own data: a SQLite file a metric may legitimately read."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table orders (n integer)")
        conn.executemany("insert into orders values (?)", [(1,), (2,), (3,)])
    return f"sqlite:///{path}"


# --- hole 1: a SQL metric on the server's own database URL ---------------------------


def test_sql_source_on_tocsins_database_variable_is_refused_at_create(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    # Given org acme has an alert with a webhook secret
    metric = create_metric(client, acme.headers)
    client.post(
        f"{API}/alerts",
        json={
            "metric_id": metric["id"],
            "name": "acme alert",
            "comparison_op": "gt",
            "threshold_value": 5,
            "action_config": {"type": "webhook", "url": "https://h.example/x", "secret": "acme-wh"},
        },
        headers=acme.headers,
    )
    # When globex names TOCSIN_DATABASE_URL as its SQL source's URL
    resp = client.post(
        f"{API}/metrics",
        json=sql_metric("peek", LEAKY_TABLE, dsn_env="TOCSIN_DATABASE_URL"),
        headers=globex.headers,
    )
    # Then it is refused, naming the field, and nothing was created
    assert resp.status_code == 422, resp.text
    assert "TOCSIN_DATABASE_URL" in fields_of(resp.json())["source.dsn_env"]
    listed = client.get(f"{API}/metrics", headers=globex.headers).json()["items"]
    assert listed == []


@pytest.mark.parametrize("variable", ["HOME", "PATH", "PGPASSWORD"])
def test_any_variable_not_allowed_by_the_operator_is_refused(
    client: TestClient, globex: Tenant, variable: str
) -> None:
    resp = client.post(
        f"{API}/metrics", json=sql_metric("peek", dsn_env=variable), headers=globex.headers
    )
    assert resp.status_code == 422
    assert "TOCSIN_SOURCE_ENV_ALLOW" in fields_of(resp.json())["source.dsn_env"]


def test_allowed_variable_works_for_single_operator_installs(
    db: Database,
    api_settings: Settings,
    globex: Tenant,
    shop_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the operator allows SHOP_* (the server reads it at start-up)
    monkeypatch.setenv("SHOP_DB_URL", shop_db)
    monkeypatch.setenv("TOCSIN_SOURCE_ENV_ALLOW", "SHOP_*")
    get_settings.cache_clear()
    settings = api_settings.model_copy(update={"source_env_allow": "SHOP_*"})
    try:
        with TestClient(create_app(db, settings, runner_status=lambda: {"alive": True})) as client:
            metric = create_metric(
                client,
                globex.headers,
                **sql_metric("orders", "select count(*) as n from orders", dsn_env="SHOP_DB_URL"),
            )
            assert run(client, globex, metric["id"])["value"] == 3
    finally:
        get_settings.cache_clear()


def test_sql_credential_pointing_at_tocsins_own_database_is_refused_before_the_query(
    client: TestClient, globex: Tenant, db: Database, tmp_path: Path
) -> None:
    # Given globex stores Tocsin's own database under another spelling
    url = make_url(db.url)
    if url.get_backend_name() == "sqlite":
        link = tmp_path / "innocent-looking.db"
        os.symlink(url.database or "", link)
        spelled = f"sqlite:///{link}"
    else:
        other_host = "localhost" if url.host != "localhost" else "127.0.0.1"
        spelled = url.set(drivername="postgres", host=other_host).render_as_string(
            hide_password=False
        )
    set_credential(client, globex, "INNOCENT", spelled)
    metric = create_metric(
        client, globex.headers, **sql_metric("peek", LEAKY_TABLE, dsn_credential="INNOCENT")
    )
    # When the metric runs
    execution = run(client, globex, metric["id"])
    # Then the run failed naming the field, and no row of any org came back
    assert execution["status"] == "failed"
    assert "source.dsn_credential" in execution["error"]
    assert "Tocsin's own database" in execution["error"]
    assert execution["result"] is None


def test_sql_credential_runs_against_the_tenants_own_database(
    client: TestClient, globex: Tenant, shop_db: str
) -> None:
    set_credential(client, globex, "SHOP_DB", shop_db)
    metric = create_metric(
        client,
        globex.headers,
        **sql_metric("orders", "select count(*) as n from orders", dsn_credential="SHOP_DB"),
    )
    assert run(client, globex, metric["id"])["value"] == 3


# --- hole 2: header values resolving the server's environment -----------------------


@pytest.mark.parametrize(
    "header",
    ["${TOCSIN_SECRET_KEY}", "Bearer ${TOCSIN_DATABASE_URL}", "$TOCSIN_ENCRYPTION_KEY", "${HOME}"],
)
def test_header_referencing_server_environment_is_refused(
    client: TestClient, globex: Tenant, header: str
) -> None:
    resp = client.post(
        f"{API}/metrics",
        json={
            "name": "leak",
            "source": {
                "type": "http",
                "url": "https://collector.example/x",
                "headers": {"X-Leak": header},
            },
            "selector": {"json_path": "$.n"},
            "schedule": {"every_seconds": 60},
        },
        headers=globex.headers,
    )
    assert resp.status_code == 422, resp.text
    assert "source.headers.X-Leak" in fields_of(resp.json())


def test_tocsin_names_can_never_be_allowed() -> None:
    from tocsin.settings import SettingsError, load_settings

    for value in ("TOCSIN_SECRET_KEY", "TOCSIN_*", "TOC*", "SHOP_DB,TOCSIN_DATABASE_URL"):
        os.environ["TOCSIN_SOURCE_ENV_ALLOW"] = value
        try:
            with pytest.raises(SettingsError, match="TOCSIN_SOURCE_ENV_ALLOW"):
                load_settings()
        finally:
            del os.environ["TOCSIN_SOURCE_ENV_ALLOW"]


# --- credentials belong to one org -------------------------------------------------


def test_another_org_cannot_list_reference_overwrite_or_delete_credentials(
    client: TestClient, acme: Tenant, globex: Tenant, shop_db: str
) -> None:
    set_credential(client, acme, "SHOP_DB", shop_db)
    acme_metric = create_metric(
        client,
        acme.headers,
        **sql_metric("orders", "select count(*) as n from orders", dsn_credential="SHOP_DB"),
    )
    # globex sees none of acme's credentials
    assert client.get(f"{API}/credentials", headers=globex.headers).json() == {"items": []}
    # cannot reference acme's by name
    resp = client.post(
        f"{API}/metrics", json=sql_metric("steal", dsn_credential="SHOP_DB"), headers=globex.headers
    )
    assert resp.status_code == 422
    assert "no credential named SHOP_DB" in fields_of(resp.json())["source.dsn_credential"]
    # cannot delete it
    assert client.delete(f"{API}/credentials/SHOP_DB", headers=globex.headers).status_code == 404
    # setting the same name makes globex's own, leaving acme's value untouched
    set_credential(client, globex, "SHOP_DB", "sqlite:////nonexistent/elsewhere.db")
    assert run(client, acme, acme_metric["id"])["value"] == 3
    assert [
        c["name"] for c in client.get(f"{API}/credentials", headers=acme.headers).json()["items"]
    ] == ["SHOP_DB"]


def test_values_never_come_back(
    client: TestClient, acme: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = set_credential(client, acme, "SHOP_DB", ACME_SECRET)
    replaced = set_credential(client, acme, "SHOP_DB", ACME_SECRET + "-2", status=200)
    listed = client.get(f"{API}/credentials", headers=acme.headers)
    bad = client.post(
        f"{API}/credentials", json={"name": "bad name", "value": ACME_SECRET}, headers=acme.headers
    )
    deleted = client.delete(f"{API}/credentials/SHOP_DB", headers=acme.headers)
    assert bad.status_code == 422 and "name" in fields_of(bad.json())
    assert set(created) == {"name", "created_at", "updated_at"}
    for resp_text in (str(created), str(replaced), listed.text, bad.text, deleted.text):
        assert "s3cr3t" not in resp_text
    assert "s3cr3t" not in caplog.text


def test_credential_value_is_stored_encrypted(
    client: TestClient, acme: Tenant, db: Database
) -> None:
    from sqlalchemy import text

    set_credential(client, acme, "SHOP_DB", ACME_SECRET)
    with db.connect() as conn:
        stored = conn.execute(text("select value_ciphertext from credentials")).scalar_one()
    assert "s3cr3t" not in stored
    assert stored.startswith("tocsin:fernet:")
    url = make_url(db.url)
    if url.get_backend_name() == "sqlite":
        for path in Path(url.database or "").parent.glob("tocsin.db*"):
            assert b"s3cr3t" not in path.read_bytes()
