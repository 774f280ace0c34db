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
