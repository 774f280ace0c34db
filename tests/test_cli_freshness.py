"""Freshness in the CLI: ``--fresh-column`` / ``--fresh-path`` with ``--max-age`` on
``metric create`` and ``metric update``, their errors (exit 2 naming the flag, nothing
changed), ``metric show``, and a stale ``--result`` read as no data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import run_cli


def _cli(db_url: str, *args: str) -> Any:
    result = run_cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return result.json()


def _selector(db_url: str, metric: str = "Signups") -> dict[str, Any]:
    selector: dict[str, Any] = _cli(db_url, "metric", "show", metric)["selector"]
    return selector


def test_create_stores_the_freshness_and_show_says_it(db_url: str) -> None:
    # Given a metric made with a fresh column and a max age
    made = _cli(
        db_url, "metric", "create", "Signups", "--column", "n",
        "--fresh-column", "updated_at", "--max-age", "1h",
    )  # fmt: skip
    # Then the selector holds them, and `metric show` says them in words
    assert made["selector"] == {
        "column": "n",
        "row": "first",
        "fresh_column": "updated_at",
        "max_age_seconds": 3600,
    }
    shown = run_cli(db_url, "metric", "show", "Signups").stdout
    assert "freshness: updated_at, max 1h" in shown
    path = _cli(db_url, "metric", "create", "Jobs", "--fresh-path", "$.at", "--max-age", "90m")
    assert path["selector"] == {"row": "first", "fresh_path": "$.at", "max_age_seconds": 5400}
    assert "freshness: $.at, max 1h30m" in run_cli(db_url, "metric", "show", "Jobs").stdout
    assert (
        "freshness: -"
        in run_cli(db_url, "metric", "show", _cli(db_url, "metric", "create", "Plain")["id"]).stdout
    )


@pytest.mark.parametrize(
    ("flags", "flag", "words"),
    [
        (["--fresh-column", "updated_at"], "--max-age", "with --fresh-column"),
        (["--fresh-path", "$.at"], "--max-age", "with --fresh-path"),
        (["--max-age", "1h"], "--max-age", "applies with --fresh-column or --fresh-path"),
        (["--fresh-column", "u", "--max-age", "0"], "--max-age", "positive"),
        (["--fresh-column", "u", "--max-age", "soon"], "--max-age", "'soon' is not a duration"),
        (["--fresh-column", "u", "--max-age", "90"], "--max-age", "a number needs a unit"),
        (["--fresh-column", "u", "--fresh-path", "$.u", "--max-age", "1h"], "--fresh-column",
         "not both"),
        (["--fresh-path", "$[", "--max-age", "1h"], "--fresh-path", "JSONPath"),
        (["--fresh-column", " ", "--max-age", "1h"], "--fresh-column", "non-empty"),
        (["--series-by", "s", "--fresh-column", "s", "--max-age", "1h"], "--fresh-column",
         "label column"),
    ],
)  # fmt: skip
def test_bad_freshness_exits_2_naming_the_flag_and_creates_nothing(
    db_url: str, flags: list[str], flag: str, words: str
) -> None:
    bad = run_cli(db_url, "metric", "create", "Signups", *flags)
    assert bad.exit_code == 2, bad.stdout
    assert bad.stderr.startswith(f"error: {flag}: ") and words in bad.stderr
    assert _cli(db_url, "metric", "list") == []


def test_update_changes_replaces_and_turns_freshness_off(db_url: str) -> None:
    _cli(db_url, "metric", "create", "Signups", "--fresh-column", "updated_at", "--max-age", "1h")
    # A new max age keeps the column
    assert _cli(db_url, "metric", "update", "Signups", "--max-age", "2h")["selector"] == {
        "row": "first",
        "fresh_column": "updated_at",
        "max_age_seconds": 7200,
    }
    # A fresh path replaces the fresh column, keeping the max age
    moved = _cli(db_url, "metric", "update", "Signups", "--fresh-path", "$.at")["selector"]
    assert moved == {"row": "first", "fresh_path": "$.at", "max_age_seconds": 7200}
    # Bad input names the flag and changes nothing
    for flags, flag in (
        (["--max-age", "0"], "--max-age"),
        (["--fresh-column", "a", "--fresh-path", "$.b"], "--fresh-column"),
        (["--max-age", "off", "--fresh-column", "a"], "--max-age"),
        (["--fresh-path", "$["], "--fresh-path"),
    ):
        bad = run_cli(db_url, "metric", "update", "Signups", *flags)
        assert bad.exit_code == 2 and bad.stderr.startswith(f"error: {flag}: "), bad.stderr
    assert _selector(db_url) == moved
    # And --max-age off turns the check off
    off = _cli(db_url, "metric", "update", "Signups", "--max-age", "off")
    assert off["selector"] == {"row": "first"}
    assert "freshness: -" in run_cli(db_url, "metric", "show", "Signups").stdout


def test_a_stale_result_reads_as_no_data_and_a_bad_time_is_refused(db_url: str) -> None:
    _cli(
        db_url, "metric", "create", "Signups", "--fresh-column", "updated_at", "--max-age", "1h",
    )  # fmt: skip
    _cli(db_url, "alert", "create", "--metric", "Signups", "--name", "low", "--when", "< 5")
    old = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    stale = {"columns": ["n", "updated_at"], "rows": [[2, old]]}
    report = _cli(db_url, "metric", "run", "Signups", "--result", json.dumps(stale))
    [evaluation] = report["evaluations"]
    assert evaluation["state_to"] == "no_data"
    assert evaluation["reason"].startswith("data stale: newest row 3 h old, max 1 h")
    # A time no one can read is bad input, and nothing is recorded
    bad = {"columns": ["n", "updated_at"], "rows": [[2, "yesterday"]]}
    refused = run_cli(db_url, "metric", "run", "Signups", "--result", json.dumps(bad))
    assert refused.exit_code == 2
    assert "fresh column updated_at: 'yesterday' is not a timestamp" in refused.stderr
    assert len(_cli(db_url, "alert", "history", "low")) == 1
