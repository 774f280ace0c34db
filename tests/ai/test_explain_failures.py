"""`tocsin chat "why didn't the errors alert fire?"` names broken data as the cause when it
is one (issue 17), on SQLite and PostgreSQL: a source that gives no data, and a value
that cannot be read; and says nothing of it once values read again."""

from __future__ import annotations

from tests.helpers import run_cli


def _ok(db_url: str, *args: str) -> str:
    result = run_cli(db_url, *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def _setup(db_url: str) -> None:
    _ok(db_url, "metric", "create", "API Errors")
    _ok(db_url, "alert", "create", "--metric", "API Errors", "--name", "errors", "--when", "> 5")
    _ok(db_url, "metric", "run", "API Errors", "--value", "2")


def test_why_names_a_source_that_gives_no_data(db_url: str) -> None:
    # Given an alert whose pushes came back empty twice
    _setup(db_url)
    for _ in range(2):
        _ok(db_url, "metric", "run", "API Errors", "--value", "[]")
    # When the user asks why it did not fire
    said = _ok(db_url, "chat", "why didn't the errors alert fire?")
    # Then the answer names the cause before the evaluations
    cause = said.splitlines()[1]
    assert cause.startswith("It cannot fire now: its source gives no data (the result is an")
    assert "in the last 2 evaluations, since " in cause


def test_why_says_nothing_of_broken_data_once_values_read_again(db_url: str) -> None:
    _setup(db_url)
    _ok(db_url, "metric", "run", "API Errors", "--value", "[]")
    _ok(db_url, "metric", "run", "API Errors", "--value", "3")
    said = _ok(db_url, "chat", "why didn't the errors alert fire?")
    assert "cannot fire now" not in said
    assert "readable again after no_data" in said
