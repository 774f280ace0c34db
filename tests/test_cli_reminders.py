"""Reminders apart from the cooldown, from the CLI on SQLite and PostgreSQL (issue 18):
a new alert is told once while it stays triggered; `--repeat-every` reminds it, never
more often than the cooldown; a bad interval exits 2 naming the flag."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.helpers import run_cli


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _kinds(report: dict[str, Any]) -> list[str]:
    return [d["kind"] for d in report["deliveries"]]


def test_reminders_only_when_asked(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    # Given two alerts without a cooldown: one as made by default, one reminded every 1s
    for name, extra in (("quiet", ()), ("nagging", ("--repeat-every", "1s"))):
        _cli(db_url, "alert", "create", "--metric", "Queue", "--name", name, "--when", "> 5",
             "--cooldown", "0", *extra)  # fmt: skip
    # When the queue stays deep for two runs more than a second apart
    first = _cli(db_url, "metric", "run", "Queue", "--value", "9")
    time.sleep(1.1)
    second = _cli(db_url, "metric", "run", "Queue", "--value", "9")
    # Then both fired once, and only the nagging one was reminded
    assert _kinds(first) == ["trigger", "trigger"]
    (reminder,) = second["deliveries"]
    nagging = _cli(db_url, "alert", "show", "nagging")
    assert reminder["alert_id"] == nagging["id"] and reminder["kind"] == "trigger"
    assert nagging["repeat_every_seconds"] == 1
    shown = run_cli(db_url, "alert", "show", "quiet").stdout
    assert "reminders: never" in shown


def test_a_bad_repeat_interval_exits_2_and_changes_nothing(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    _cli(db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 5",
         "--repeat-every", "4h")  # fmt: skip
    bad = run_cli(db_url, "alert", "update", "deep", "--repeat-every", "sometimes")
    assert bad.exit_code == 2 and "--repeat-every" in bad.stderr
    assert _cli(db_url, "alert", "show", "deep")["repeat_every_seconds"] == 4 * 3600
    off = _cli(db_url, "alert", "update", "deep", "--repeat-every", "never")
    assert off["repeat_every_seconds"] is None
