"""Small helpers the tests share."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.cli.common import hoist_global_options


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    db_url: str, *args: str, org: str = "default", env: dict[str, str] | None = None
) -> CliResult:
    runner = CliRunner()
    argv = ["--database-url", db_url, "--org", org, *args]
    result = runner.invoke(app, hoist_global_options(argv), env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


def opened(db_url: str, config: Any) -> Any:
    """A stored ``action_config`` (or one action) with its sealed secrets opened."""
    from tocsin.alerts.actions.sealing import open_action
    from tocsin.crypto import keyring_for

    ring = keyring_for(db_url)
    if isinstance(config, dict):
        return open_action(config, ring)
    return [open_action(a, ring) for a in config]


def opened_headers(db_url: str, source: dict[str, Any]) -> dict[str, str]:
    """A stored source's header values in clear."""
    from tocsin.crypto import keyring_for
    from tocsin.metrics.sealing import open_header

    ring = keyring_for(db_url)
    return {k: open_header(k, v, ring) for k, v in source.get("headers", {}).items()}


def downgrade_to(db: Any, revision: str) -> None:
    """The test database as it was at ``revision`` (for a migration's test)."""
    from alembic import command

    from tocsin.db.migrate import alembic_config

    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def insert_old_metric(conn: Any, org_id: Any, name: str, at: Any) -> Any:
    """A push metric inserted by the columns every revision has (a migration test's
    stores read the newest schema's)."""
    import uuid

    from sqlalchemy import insert

    from tocsin.db.schema import metrics

    metric_id = uuid.uuid4()
    conn.execute(
        insert(metrics).values(
            id=metric_id,
            org_id=org_id,
            name=name,
            description="",
            source={"type": "push"},
            enabled=True,
            created_at=at,
            updated_at=at,
        )  # fmt: skip
    )
    return metric_id
