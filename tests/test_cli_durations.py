"""Durations end to end, on SQLite and PostgreSQL with a real local webhook server (issue
18 item 3): `--for 2s` fires only once the condition held 2 s of run completion times,
`--keep-firing-for 2s` resolves only 2 s after it stopped holding."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.channels.channel_support import Sink
from tests.helpers import run_cli

ENV = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args, env=ENV)
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def _run(db_url: str, value: str) -> str:
    report = _cli(db_url, "metric", "run", "Queue", "--value", value)
    state: str = report["evaluations"][0]["state_to"]
    return state


def test_for_and_keep_firing_for_on_run_times(db_url: str, sink: Sink) -> None:
    _cli(db_url, "metric", "create", "Queue")
    made = _cli(
        db_url, "alert", "create", "--metric", "Queue", "--name", "deep", "--when", "> 5",
        "--for", "2s", "--keep-firing-for", "2s", "--action", f"webhook:{sink.url}/hook",
    )  # fmt: skip
    assert (made["for_seconds"], made["keep_firing_seconds"]) == (2, 2)

    def events() -> list[str]:
        return [r.json()["event"] for r in sink.requests if r.path == "/hook"]

    # Deep at once, and again at once: held too short, pending
    assert [_run(db_url, "9"), _run(db_url, "9")] == ["pending", "pending"]
    time.sleep(2.1)
    # Past 2 s of breach: it fires
    assert _run(db_url, "9") == "triggered" and events() == ["alert.triggered"]
    # Shallow again: kept firing for 2 s, then resolved
    assert _run(db_url, "1") == "triggered"
    time.sleep(2.1)
    assert _run(db_url, "1") == "ok"
    assert events() == ["alert.triggered", "alert.resolved"]
    assert "for: 2s   keep firing: 2s" in run_cli(db_url, "alert", "show", "deep").stdout
