"""Fixtures for the web UI tests: the app over the ``db`` fixture (SQLite and
PostgreSQL) bound to loopback or to the network, and a real server + Chromium for the
browser tests."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture
def ui_settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        allow_private_networks=True,
        http_timeout_seconds=5.0,
        secret_key="test-secret-key-for-ui-sessions",
        delivery_max_attempts=2,
    )


@pytest.fixture
def local_app(db: Database, ui_settings: Settings) -> FastAPI:
    """The server as `tocsin serve` runs it on 127.0.0.1: no login."""
    return create_app(db, ui_settings, ui_bind_host="127.0.0.1")


@pytest.fixture
def ui(local_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(local_app) as c:
        yield c


@pytest.fixture
def public_app(db: Database, ui_settings: Settings) -> FastAPI:
    """The server bound to every interface: the UI asks for an API key."""
    return create_app(db, ui_settings, ui_bind_host="0.0.0.0")


@pytest.fixture
def public_ui(public_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(public_app) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_server(local_app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a real port, for the browser."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(local_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Missing, the browser tests fail (CI installs it)
    unless TOCSIN_SKIP_BROWSER=1 says to skip them on a machine without it."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("TOCSIN_SKIP_BROWSER") == "1":
            pytest.skip("chromium is not installed")
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield found
        found.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
