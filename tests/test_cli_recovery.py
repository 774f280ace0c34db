"""Recovery conditions end to end, on SQLite and PostgreSQL with a real local webhook
server (issue 18 item 2): a drop 110 -> 70 -> 72 with `--recover-from episode` stays
triggered (run over run it would resolve), and `--recover-when` holds a series between
the thresholds; bad input exits 2 naming the flag and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.channels.channel_support import Sink
from tests.helpers import run_cli

ENV = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args, env=ENV)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _events(sink: Sink) -> list[str]:
    return [r.json()["event"] for r in sink.requests if r.path == "/hook"]


def test_a_drop_measured_from_the_episode_is_not_resolved_by_a_small_rise(
    db_url: str, sink: Sink
) -> None:
    # Given signups watched for a drop of more than 20%, recovery from the episode's start
    _cli(db_url, "metric", "create", "Signups")
    made = _cli(
        db_url, "alert", "create", "--metric", "Signups", "--name", "drop",
        "--condition", "relative_change", "--when", "< -20%", "--recover-from", "episode",
        "--action", f"webhook:{sink.url}/hook",
    )  # fmt: skip
    assert made["recover_from"] == "episode"
    # When signups go 110, 70, 72
    for value in ("110", "70", "72"):
        report = _cli(db_url, "metric", "run", "Signups", "--value", value)
    # Then it fired on 70 and stays triggered at 72 (still 34.5% below 110)
    (evaluation,) = report["evaluations"]
    assert evaluation["state_to"] == "triggered"
    assert "not recovered: change -34.5455% from 110, before the episode" in evaluation["reason"]
    assert _events(sink) == ["alert.triggered"]
    # And a return to 100 (-9.1% from 110) resolves it
    _cli(db_url, "metric", "run", "Signups", "--value", "100")
    assert _events(sink) == ["alert.triggered", "alert.resolved"]
    shown = run_cli(db_url, "alert", "show", "drop").stdout
    assert "recovers when the change from before the episode is no longer < -20%" in shown


def test_a_recovery_condition_holds_between_the_thresholds(db_url: str, sink: Sink) -> None:
    _cli(db_url, "metric", "create", "Queue")
    _cli(
        db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 10",
        "--recover-when", "< 4", "--action", f"webhook:{sink.url}/hook",
    )  # fmt: skip
    states = [
        _cli(db_url, "metric", "run", "Queue", "--value", v)["evaluations"][0]["state_to"]
        for v in ("11", "8", "3")
    ]
    assert states == ["triggered", "triggered", "ok"]
    assert _events(sink) == ["alert.triggered", "alert.resolved"]
    assert "(recovers when < 4)" in run_cli(db_url, "alert", "show", "deep").stdout
    # --recover-when off goes back to resolving when the condition no longer holds
    cleared = _cli(db_url, "alert", "update", "deep", "--recover-when", "off")
    assert (cleared["recovery_op"], cleared["recovery_threshold"]) == (None, None)


def test_bad_recovery_input_exits_2_naming_the_flag(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    _cli(db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 10")
    for args, flag in (
        (("--recover-when", "below four"), "--recover-when"),
        (("--recover-from", "episode"), "--recover-from"),  # not a relative change
        (("--recover-from", "yesterday"), "--recover-from"),
    ):
        bad = run_cli(db_url, "alert", "update", "deep", *args)
        assert bad.exit_code == 2, args
        assert flag in bad.stderr, (args, bad.stderr)
    shown = _cli(db_url, "alert", "show", "deep")
    assert (shown["recovery_op"], shown["recover_from"]) == (None, "run")
