"""Series in the CLI: ``--series-by``, ``--label``, ``--result``, ``alert series``."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import run_cli

TABLE = {"columns": ["service", "errors"], "rows": [["api", 7], ["web", 2], ["batch", 9]]}


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


def test_cli_series_from_a_whole_result_and_from_labelled_values(db_url: str) -> None:
    # Given a metric whose results have a service column, and one alert > 5
    _cli(db_url, "metric", "create", "Errors", "--column", "errors", "--series-by", "service")
    _cli(db_url, "alert", "create", "--metric", "Errors", "--name", "hot", "--when", "> 5")
    # When a whole result is recorded
    report = _cli(db_url, "metric", "run", "Errors", "--result", json.dumps(TABLE))
    # Then one evaluation per service, and the breaching ones notify
    assert {e["labels"]["service"]: e["notified"] for e in report["evaluations"]} == {
        "api": True,
        "web": False,
        "batch": True,
    }
    assert sorted(d["labels"]["service"] for d in report["deliveries"]) == ["api", "batch"]
    # and `alert series` shows each series' state, worst first, filtered by --state
    shown = _cli(db_url, "alert", "series", "hot")
    assert [(s["labels"]["service"], s["state"]) for s in shown] == [
        ("api", "triggered"),
        ("batch", "triggered"),
        ("web", "ok"),
    ]
    ok = _cli(db_url, "alert", "series", "hot", "--state", "ok")
    assert [s["labels"] for s in ok] == [{"service": "web"}]
    # and a labelled --value is one series of the same alert
    moved = _cli(db_url, "metric", "run", "Errors", "--value", "9", "--label", "service=web")
    web = next(e for e in moved["evaluations"] if e["labels"] == {"service": "web"})
    assert web["state_to"] == "triggered" and web["notified"] is True
    alert = _cli(db_url, "alert", "show", "hot")
    assert alert["series_count"] == 3
    assert alert["series_by"] == ["service"]
    text = run_cli(db_url, "alert", "list").stdout
    assert "triggered (" in text and "of 3 triggered)" in text


def test_cli_refuses_bad_series_input_naming_the_flag(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Errors", "--column", "errors", "--series-by", "service")
    bad = run_cli(db_url, "metric", "run", "Errors", "--result", "{not json")
    assert bad.exit_code == 2 and "--result" in bad.stderr
    label = run_cli(db_url, "metric", "run", "Errors", "--value", "1", "--label", "service")
    assert label.exit_code == 2 and "--label" in label.stderr and "NAME=VALUE" in label.stderr
    matcher = run_cli(
        db_url, "alert", "create", "--metric", "Errors", "--name", "a", "--when", "> 5",
        "--series", "service<>x",
    )  # fmt: skip
    assert matcher.exit_code == 2 and "--series" in matcher.stderr
    state = run_cli(db_url, "alert", "series", "a", "--state", "firing")
    assert state.exit_code == 2 and "--state" in state.stderr
