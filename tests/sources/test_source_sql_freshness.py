"""Freshness through the run path: a SQL metric over a real SQLite file and a real
PostgreSQL database (never Tocsin's own), run by ``tocsin metric run``, whose table's
newest ``updated_at`` is older than ``--max-age`` (PRODUCT.md §7 "Freshness")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.cli.common import hoist_global_options
from tocsin.db.engine import normalize_url
from tocsin.metrics.sources.sql import dispose_engines

QUERY = "select count(*) as n, max(updated_at) as updated_at from signups"


@dataclass
class ShopDb:
    """The database a metric's query reads: its URL and how it keeps a time."""

    url: str
    sqlite: bool

    def insert(self, n: int, updated_at: datetime) -> None:
        # SQLite keeps text as datetime('now') writes it: naive, UTC.
        stamp: object = updated_at.strftime("%Y-%m-%d %H:%M:%S") if self.sqlite else updated_at
        engine = create_engine(normalize_url(self.url))
        with engine.begin() as conn:
            for _ in range(n):
                conn.execute(text("insert into signups (updated_at) values (:at)"), {"at": stamp})
        engine.dispose()


def _create(url: str, *, sqlite: bool) -> ShopDb:
    kind = "text" if sqlite else "timestamptz"
    key = "integer primary key" if sqlite else "serial primary key"
    engine = create_engine(normalize_url(url))
    with engine.begin() as conn:
        conn.execute(text(f"create table signups (id {key}, updated_at {kind})"))
    engine.dispose()
    return ShopDb(url, sqlite)


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ShopDb]:
    if request.param == "sqlite":
        yield _create(f"sqlite:///{tmp_path / 'shop.db'}", sqlite=True)
    else:
        # A database of its own: a source never reads Tocsin's.
        yield _create(request.getfixturevalue("fresh_pg"), sqlite=False)
    dispose_engines()


def tocsin(db_url: str, *args: str, stdin: str | None = None) -> Any:
    argv = hoist_global_options(["--database-url", db_url, "--json", *args])
    result = CliRunner().invoke(app, argv, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_a_stale_table_is_no_data_until_a_fresh_row_arrives(db_url: str, shop: ShopDb) -> None:
    # Given a table whose six rows were last updated three hours ago
    now = datetime.now(UTC)
    shop.insert(6, now - timedelta(hours=3))
    tocsin(db_url, "credential", "set", "SHOP_DB", stdin=shop.url)
    tocsin(
        db_url, "metric", "create", "Signups", "--source", "sql", "--dsn-credential", "SHOP_DB",
        "--sql", QUERY, "--every", "1h", "--fresh-column", "updated_at", "--max-age", "1h",
    )  # fmt: skip
    tocsin(db_url, "alert", "create", "--metric", "Signups", "--name", "Signups", "--when", "> 5")

    # When the metric runs
    stale = tocsin(db_url, "metric", "run", "Signups")

    # Then the run completed, but its value is no data, saying why
    assert stale["execution"]["status"] == "completed"
    assert stale["execution"]["value"] is None
    [evaluation] = stale["evaluations"]
    assert evaluation["state_to"] == "no_data"
    assert evaluation["reason"].startswith("data stale: newest row 3 h old, max 1 h")
    # and `metric show` says so of that run
    shown = CliRunner().invoke(
        app, hoist_global_options(["--database-url", db_url, "metric", "show", "Signups"])
    )
    assert "completed  no value: data stale: newest row 3 h old, max 1 h" in shown.stdout

    # When a fresh row arrives and the metric runs again
    shop.insert(1, datetime.now(UTC))
    fresh = tocsin(db_url, "metric", "run", "Signups")

    # Then its value is read as usual, and the alert fires on it
    assert fresh["execution"]["value"] == 7
    [evaluation] = fresh["evaluations"]
    assert (evaluation["state_from"], evaluation["state_to"]) == ("no_data", "triggered")
    assert tocsin(db_url, "alert", "show", "Signups")["state"] == "triggered"
