"""One declaration of a threshold's limits: the CLI, the API and the UI's form refuse the
same inputs with the same words (Tocsin's, not pydantic's)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tocsin.api.auth import create_api_key
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

from .helpers import run_cli

CASES = [
    ("1e20", "out of range: expected a number between -1e15 and 1e15"),
    ("1e999999", "out of range: expected a number between -1e15 and 1e15"),
    ("0.1234567890123456", "expected at most 12 decimal places"),
    ("1234567890.123456789012345678901", "expected a number with at most 30 digits"),
    ("5" * 5000, "too many digits: expected a number with at most 30 digits"),
]


@pytest.mark.parametrize(("number", "message"), CASES)
def test_cli_and_api_refuse_the_same_thresholds_in_the_same_words(
    db: Database, db_url: str, number: str, message: str
) -> None:
    run_cli(db_url, "metric", "create", "m", "--source", "push")
    cli = run_cli(
        db_url, "alert", "create", "--metric", "m", "--name", "a", "--when", f"> {number}"
    )
    assert cli.exit_code == 2
    assert cli.stderr.startswith("error: --when: ") and message in cli.stderr, cli.stderr
    assert run_cli(db_url, "--json", "alert", "list").json() == []

    with db.begin() as conn:
        _, key = create_api_key(conn, get_or_create_org(conn, "default"), "t", role="editor")
    app = create_app(db, Settings(database_url=db_url), runner_status=lambda: {"alive": True})
    body = (
        '{"metric_id": "m", "name": "a", "comparison_op": "gt", "action_config": {"type": "log"},'
        f' "threshold_value": "{number}"}}'
    )
    with TestClient(app) as client:
        payloads = [body, body.replace(f'"{number}"', number)]
        if len(number) < 4300 and repr(float(number)) not in (number, "inf"):
            # JSON numbers reach the model as floats: one past a float's precision arrives
            # rounded (noted in the closing note), so only the string form is exact.
            payloads.pop()
        for payload in payloads:
            resp = client.post(
                "/api/v1/alerts",
                content=payload,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            assert resp.status_code == 422, resp.text
            (error,) = resp.json()["detail"]
            if len(number) > 4300 and payload is not body:
                # Too long for Python's JSON decoder: the body, in the same words.
                assert error == {"field": "body", "message": "too many digits in a number"}
            else:
                assert error == {"field": "threshold_value", "message": message}


def test_an_action_named_twice_is_said_once(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "m", "--source", "push")
    bad = run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        "m",
        "--name",
        "a",
        "--when",
        "> 5",
        "--action",
        "nope:x",
    )
    assert bad.exit_code == 2 and bad.stderr.count("--action:") == 1, bad.stderr
