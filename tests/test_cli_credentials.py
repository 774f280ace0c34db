"""``tocsin credential``: values from stdin only, names in listings, refs checked at create."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.cli.common import hoist_global_options

from .helpers import run_cli

SECRET = "sqlite:///tmp/never-shown-s3cr3t.db"


def cli(db_url: str, *args: str, org: str = "default", stdin: str | None = None) -> tuple[int, str]:
    argv = ["--database-url", db_url, "--org", org, *args]
    result = CliRunner().invoke(app, hoist_global_options(argv), input=stdin)
    return result.exit_code, result.stdout + result.stderr


def test_set_reads_the_value_from_stdin_and_never_prints_it(db_url: str) -> None:
    code, out = cli(db_url, "credential", "set", "SHOP_DB", stdin=SECRET + "\n")
    assert code == 0, out
    assert "created credential SHOP_DB" in out
    code, out = cli(db_url, "credential", "set", "SHOP_DB", stdin=SECRET + "-v2\n")
    assert code == 0 and "replaced credential SHOP_DB" in out
    code, listed = cli(db_url, "--json", "credential", "list")
    assert code == 0
    assert [c["name"] for c in json.loads(listed)] == ["SHOP_DB"]
    for text in (out, listed):
        assert "s3cr3t" not in text


def test_value_is_not_an_argument(db_url: str) -> None:
    code, out = cli(db_url, "credential", "set", "SHOP_DB", SECRET)
    assert code == 2
    code, listed = cli(db_url, "--json", "credential", "list")
    assert json.loads(listed) == []


def test_bad_name_and_empty_value_exit_2(db_url: str) -> None:
    code, out = cli(db_url, "credential", "set", "bad-name", stdin="x")
    assert code == 2 and "name" in out
    code, out = cli(db_url, "credential", "set", "GOOD", stdin="")
    assert code == 2 and "value" in out


def test_metric_names_a_credential_of_its_own_org_only(db_url: str, tmp_path: Path) -> None:
    shop = tmp_path / "shop.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("create table t (n integer)")
        conn.execute("insert into t values (7)")
    assert (
        cli(db_url, "credential", "set", "SHOP_DB", org="acme", stdin=f"sqlite:///{shop}")[0] == 0
    )
    sql = ["--source", "sql", "--sql", "select n from t", "--every", "1h"]
    # globex cannot reference acme's credential
    refused = run_cli(
        db_url, "metric", "create", "steal", *sql, "--dsn-credential", "SHOP_DB", org="globex"
    )
    assert refused.exit_code == 2
    assert "--dsn-credential" in refused.stderr and "no credential named SHOP_DB" in refused.stderr
    # acme can, and the run reads acme's database
    made = run_cli(db_url, "metric", "create", "n", *sql, "--dsn-credential", "SHOP_DB", org="acme")
    assert made.exit_code == 0, made.stderr
    ran = run_cli(db_url, "--json", "metric", "run", "n", org="acme")
    assert ran.json()["execution"]["value"] == 7
    # and the server's environment is not a way around it
    env = run_cli(
        db_url, "metric", "create", "env", *sql, "--dsn-env", "TOCSIN_DATABASE_URL", org="globex"
    )
    assert env.exit_code == 2 and "--dsn-env" in env.stderr


def test_delete(db_url: str) -> None:
    cli(db_url, "credential", "set", "X", stdin="v")
    assert cli(db_url, "credential", "delete", "X")[0] == 0
    code, out = cli(db_url, "credential", "delete", "X")
    assert code == 2
    assert "not found" in out


def test_metrics_made_before_the_allowlist_are_named_by_db_upgrade(
    db_url: str, tmp_path: Path
) -> None:
    # Given a metric stored before credentials existed, reading a variable
    shop = tmp_path / "legacy.db"
    with sqlite3.connect(shop) as conn:
        conn.execute("create table t (n integer)")
        conn.execute("insert into t values (4)")
    from sqlalchemy import update

    from tocsin.db.database import Database
    from tocsin.db.schema import metrics

    made = run_cli(db_url, "--json", "metric", "create", "legacy", "--source", "push", org="acme")
    db = Database(db_url)
    with db.begin() as conn:
        conn.execute(
            update(metrics).values(
                source={"type": "sql", "sql": "select n from t", "dsn_env": "LEGACY_DB"},
                schedule={"every_seconds": 3600},
            )
        )
    db.dispose()
    env = {"LEGACY_DB": f"sqlite:///{shop}"}
    # When the operator upgrades, Tocsin names the metric and what to do
    upgraded = run_cli(db_url, "db", "upgrade", env=env)
    assert upgraded.exit_code == 0
    assert "metric 'legacy' (org acme) reads environment variable LEGACY_DB" in upgraded.stdout
    assert "TOCSIN_SOURCE_ENV_ALLOW" in upgraded.stdout
    # Until the variable is allowed its runs fail, saying why
    ran = run_cli(db_url, "--json", "metric", "run", made.json()["id"], org="acme", env=env)
    assert ran.json()["execution"]["status"] == "failed"
    assert "TOCSIN_SOURCE_ENV_ALLOW" in ran.json()["execution"]["error"]
    # Once it is, the metric works as before, and upgrade has nothing left to say
    env["TOCSIN_SOURCE_ENV_ALLOW"] = "LEGACY_*"
    ran = run_cli(db_url, "--json", "metric", "run", "legacy", org="acme", env=env)
    assert ran.json()["execution"]["value"] == 4
    assert "reads environment variable" not in run_cli(db_url, "db", "upgrade", env=env).stdout
