"""When data breaks, from the CLI on SQLite and PostgreSQL (issue 17): `--on-no-data`,
`--on-error` and `--no-failure-notice` on create and update, shown by `alert show`; a bad
choice exits 2 naming the flag and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import run_cli


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_cli_sets_and_shows_the_handling(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    created = _cli(
        db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 5",
        "--on-no-data", "ok", "--no-failure-notice",
    )  # fmt: skip
    assert (created["on_no_data"], created["on_error"], created["failure_notice"]) == (
        "ok",
        "error",
        False,
    )
    shown = run_cli(db_url, "alert", "show", "deep").stdout
    assert "no data:    ok   error: error   failure notices: off" in shown
    updated = _cli(db_url, "alert", "update", "deep", "--on-error", "keep_last", "--failure-notice")
    assert (updated["on_error"], updated["failure_notice"]) == ("keep_last", True)


def test_cli_refuses_a_bad_choice_naming_the_flag(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    _cli(db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 5")
    bad = run_cli(db_url, "alert", "update", "deep", "--on-error", "page-me")
    assert bad.exit_code == 2
    assert "--on-error" in bad.stderr and "keep_last" in bad.stderr
    refused = run_cli(
        db_url, "alert", "create", "--metric", "Queue", "--name", "other", "--when", "> 5",
        "--on-no-data", "ignore",
    )  # fmt: skip
    assert refused.exit_code == 2 and "--on-no-data" in refused.stderr
    # Nothing changed
    assert _cli(db_url, "alert", "show", "deep")["on_error"] == "error"
    assert [a["name"] for a in _cli(db_url, "alert", "list")] == ["deep"]
