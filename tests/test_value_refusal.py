"""A value given by hand that no alert could read is refused at the door, everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tocsin.api.auth import create_api_key
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

from .helpers import run_cli

BAD = ["abc", "NaN", "1e400", "true", "-Infinity"]


def _executions(db_url: str) -> int:
    shown = run_cli(db_url, "--json", "metric", "show", "Open Issues")
    assert shown.exit_code == 0
    db = Database(db_url)
    from sqlalchemy import func, select

    from tocsin.db.schema import metric_executions

    with db.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(metric_executions)).scalar_one())
    db.dispose()
    return count


@pytest.mark.parametrize("text", BAD)
def test_cli_refuses_a_value_it_cannot_read(db_url: str, text: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push")
    run_cli(db_url, "alert", "create", "--metric", "Open Issues", "--name", "a", "--when", "> 5")
    result = run_cli(db_url, "metric", "run", "Open Issues", "--value", text)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --value:"), result.stderr
    assert _executions(db_url) == 0
    shown = run_cli(db_url, "--json", "alert", "show", "a").json()
    assert shown["state"] == "ok"


def test_a_push_metric_run_without_a_value_names_the_flag(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push")
    result = run_cli(db_url, "metric", "run", "Open Issues")
    assert result.exit_code == 2 and "--value" in result.stderr


@pytest.mark.parametrize("value", ["NaN", "abc", True, "1e400", {"n": "x"}])
def test_api_refuses_a_value_it_cannot_read(db: Database, db_url: str, value: object) -> None:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "acme")
        _, key = create_api_key(conn, org_id, "t")
    headers = {"Authorization": f"Bearer {key}"}
    app = create_app(db, Settings(database_url=db_url), runner_status=lambda: {"alive": True})
    with TestClient(app) as client:
        client.post(
            "/api/v1/metrics",
            json={"name": "Open Issues", "source": {"type": "push"}},
            headers=headers,
        )
        resp = client.post(
            "/api/v1/metrics/Open Issues/values", json={"value": value}, headers=headers
        )
        assert resp.status_code == 422, resp.text
        assert [e["field"] for e in resp.json()["detail"]] == ["value"]
        runs = client.get("/api/v1/metrics/Open Issues/executions", headers=headers).json()
        assert runs["items"] == []
        ok = client.post("/api/v1/metrics/Open Issues/values", json={"value": "6"}, headers=headers)
        assert ok.status_code == 200


def test_a_duration_needs_a_unit(db_url: str) -> None:
    result = run_cli(db_url, "metric", "create", "Demo", "--source", "demo", "--every", "5")
    assert result.exit_code == 2
    assert "--every" in result.stderr
    assert "expected a duration such as 30s, 5m, 1h" in result.stderr
    assert run_cli(db_url, "--json", "metric", "list").json() == []


@pytest.mark.parametrize("span", ["367d", "53w", "0s"])
def test_a_mute_is_at_most_366_days(db_url: str, span: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push")
    run_cli(db_url, "alert", "create", "--metric", "Open Issues", "--name", "a", "--when", "> 5")
    result = run_cli(db_url, "alert", "mute", "a", "--for", span)
    assert result.exit_code == 2 and "--for" in result.stderr and "366 days" in result.stderr
    assert run_cli(db_url, "--json", "alert", "show", "a").json()["muted_until"] is None
    assert run_cli(db_url, "alert", "mute", "a", "--for", "366d").exit_code == 0
