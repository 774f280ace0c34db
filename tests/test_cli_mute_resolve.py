"""Mute and resolve from the CLI (issue 17 item 5), on SQLite and PostgreSQL: resolves
get through a mute by default; `--drop-resolve-when-muted` drops them, and
`--send-resolve-when-muted` undoes that."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import run_cli


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_cli_resolves_while_muted_are_sent_unless_dropped(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Queue")
    # Given one alert that sends resolves while muted (the default) and one that drops them
    _cli(db_url, "alert", "create", "--metric", "Queue", "--name", "sends", "--when", "> 5")
    dropping = _cli(
        db_url, "alert", "create", "--metric", "Queue", "--name", "drops", "--when", "> 5",
        "--drop-resolve-when-muted",
    )  # fmt: skip
    assert dropping["drop_resolve_when_muted"] is True
    # When each fires, is muted, and recovers
    assert _cli(db_url, "metric", "run", "Queue", "--value", "9")["deliveries"]
    for name in ("sends", "drops"):
        _cli(db_url, "alert", "mute", name, "--for", "1h")
    report = _cli(db_url, "metric", "run", "Queue", "--value", "1")
    # Then only the first sends its resolve
    sent = {d["alert_id"]: d["kind"] for d in report["deliveries"]}
    assert list(sent.values()) == ["resolve"] and dropping["id"] not in sent
    # and `alert show` says which one drops them; --send-resolve-when-muted undoes it
    assert "resolves while muted: dropped" in run_cli(db_url, "alert", "show", "drops").stdout
    undone = _cli(db_url, "alert", "update", "drops", "--send-resolve-when-muted")
    assert undone["drop_resolve_when_muted"] is False
