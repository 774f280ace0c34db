"""Fixtures for the REST API tests: the app over the ``db`` fixture (SQLite and
PostgreSQL), a client that runs its lifespan, and API keys in two orgs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.api import create_app
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


@dataclass(frozen=True)
class Tenant:
    org_id: uuid.UUID
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(db: Database, org: str) -> Tenant:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        _, key = create_api_key(conn, org_id, f"{org} tests")
    return Tenant(org_id, key)


@pytest.fixture
def api_settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        allow_private_networks=True,
        http_timeout_seconds=5.0,
        public_url="https://tocsin.example",
        delivery_max_attempts=2,
    )


@pytest.fixture
def app(db: Database, api_settings: Settings) -> FastAPI:
    return create_app(db, api_settings, runner_status=lambda: {"alive": True})


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def acme(db: Database) -> Tenant:
    return make_tenant(db, "acme")


@pytest.fixture
def globex(db: Database) -> Tenant:
    return make_tenant(db, "globex")
