"""Fixtures for the REST API tests: the app over the ``db`` fixture (SQLite and
PostgreSQL), a client that runs its lifespan, and API keys in two orgs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import Tenant, make_tenant
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings


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
