"""Shared fixtures: every store and runtime test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TOCSIN_TEST_POSTGRES_URL (default: the local server).
When it cannot be reached the PostgreSQL half is skipped with a clear notice,
unless TOCSIN_REQUIRE_POSTGRES=1 (CI), where that is a failure.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tocsin.db.database import Database
from tocsin.db.engine import normalize_url
from tocsin.db.schema import metadata

PG_URL = os.environ.get("TOCSIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("TOCSIN_REQUIRE_POSTGRES") == "1"

# Secrets at rest need a key; on PostgreSQL nothing else supplies one. A fixed test key
# (never a real one) so that subprocesses (tocsin worker, the CLI) share it.
TEST_ENCRYPTION_KEY = "dGVzdC1vbmx5LWtleS1kby1ub3QtdXNlLWFueXdoZXI="
os.environ.setdefault("TOCSIN_ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)

# Secrets the tests set, which no log line of the whole run may hold (checked when the
# session ends). New tests: put "s3cr3t" in a secret and it is watched.
WATCHED_SECRETS = (
    "s3cr3t",
    "hunter2",
    "whsec-leak-888",
    "pdleak0123456789",
    "R0UTINGKEY123",
    "xyzSECRET",
    "literal-token-123",
    TEST_ENCRYPTION_KEY,
)


class _SecretWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "aiohttp.access":
            return  # the tests' own local receivers logging the requests sent to them
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot format holds nothing to check
            return
        for secret in WATCHED_SECRETS:
            if secret in text:
                self.leaks.append(f"{record.name}: {text[:300]}")


_watch = _SecretWatch()


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(_watch)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


_pg_state: dict[str, Any] = {"error": None, "url": None, "skipped": 0}


def _admin_engine() -> Any:
    return create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")


def _create_pg_database() -> str:
    name = f"tocsin_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    if _pg_state["url"] is None and _pg_state["error"] is None:
        try:
            url = _create_pg_database()
            db = Database(url)
            db.ensure_schema()
            db.dispose()
            _pg_state["url"] = url
        except Exception as exc:  # noqa: BLE001 - reported below, never silently
            _pg_state["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if _pg_state["error"] is not None:
        message = f"PostgreSQL unavailable at {PG_URL}: {_pg_state['error']}"
        if REQUIRE_PG:
            pytest.fail(message + " (TOCSIN_REQUIRE_POSTGRES=1)", pytrace=False)
        _pg_state["skipped"] += 1
        pytest.skip(message)
    yield _pg_state["url"]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_state["url"]:
        _drop_pg_database(_pg_state["url"])
    if _watch.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _watch.leaks:
        terminalreporter.write_sep(
            "!", "SECRETS IN LOGS: a test's secret reached a log record", red=True
        )
        for leak in dict.fromkeys(_watch.leaks):
            terminalreporter.write_line("  " + leak)
    if _pg_state["skipped"]:
        terminalreporter.write_sep(
            "!",
            f"{_pg_state['skipped']} PostgreSQL tests were SKIPPED: {_pg_state['error']}. "
            "Set TOCSIN_TEST_POSTGRES_URL, or TOCSIN_REQUIRE_POSTGRES=1 to fail instead.",
            yellow=True,
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.ensure_schema()
    db.dispose()
    return path


def _truncate_pg(db: Database) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with db.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} CASCADE"))
        if conn.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar():
            conn.execute(text("TRUNCATE procrastinate_jobs CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "tocsin.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_url")
    db = Database(url)
    _truncate_pg(db)
    db.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def org_id(db: Database) -> uuid.UUID:
    from tocsin.orgs import get_or_create_org

    with db.begin() as conn:
        return get_or_create_org(conn, "acme")


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database of the test's own: no tables, never
    analysed. Its URL; dropped afterwards."""
    url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(url)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """The PostgreSQL database alone, empty, for PostgreSQL-only behaviour."""
    database = Database(pg_url)
    _truncate_pg(database)
    yield database
    database.dispose()


@pytest.fixture
def sink() -> Iterator[Any]:
    """A real local HTTP server that records requests and answers from a script."""
    from tests.channels.channel_support import Sink

    server = Sink().start()
    yield server
    server.stop()
