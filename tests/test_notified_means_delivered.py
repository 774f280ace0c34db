"""'Notified' means delivered: a webhook that answers 404 or 500 is never shown as
notified, in the run line, in ``alert show`` and on the UI's badges."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings

from .channels.channel_support import Reply
from .helpers import run_cli

LOCAL = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}


def _fire(db_url: str, sink: Any) -> str:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push", env=LOCAL)
    made = run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        "Open Issues",
        "--name",
        "Issues",
        "--when",
        "> 5",
        "--action",
        f"webhook:{sink.url}/hook",
        "--cooldown",
        "0",
        env=LOCAL,
    )
    assert made.exit_code == 0, made.stderr
    result = run_cli(db_url, "metric", "run", "Open Issues", "--value", "6", env=LOCAL)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_a_404_is_a_failed_notification_everywhere(db_url: str, sink: Any) -> None:
    sink.default = Reply(status=404, body="no such hook")
    line = _fire(db_url, sink)
    assert "[NOTIFY FAILED: webhook HTTP 404]" in line
    assert "[NOTIFIED]" not in line
    shown = run_cli(db_url, "--json", "alert", "show", "Issues").json()
    last = shown["last_delivery"]
    assert (last["kind"], last["status"], last["error"]) == (
        "trigger",
        "failed",
        "webhook HTTP 404",
    )
    assert last["attempts"] == 1
    assert "failed (webhook HTTP 404)" in run_cli(db_url, "alert", "show", "Issues").stdout
    # The UI's list and the alert's page carry the warning badge
    db = Database(db_url)
    app = create_app(db, Settings(database_url=db_url), ui_bind_host="127.0.0.1")
    with TestClient(app) as ui:
        listing = ui.get("/ui/alerts/table").text
        assert 'data-state="notify_failed"' in listing
        page = ui.get(f"/ui/alerts/{shown['id']}").text
        assert 'data-state="notify_failed"' in page
    db.dispose()


def test_a_500_is_retrying_and_a_200_is_notified(db_url: str, sink: Any) -> None:
    sink.default = Reply(status=500)
    assert "[RETRYING: webhook HTTP 500, attempt 1]" in _fire(db_url, sink)
    assert (
        run_cli(db_url, "--json", "alert", "show", "Issues").json()["last_delivery"]["status"]
        == "pending"
    )
    run_cli(db_url, "metric", "run", "Open Issues", "--value", "4", env=LOCAL)
    sink.default = Reply(status=200)
    line = run_cli(db_url, "metric", "run", "Open Issues", "--value", "7", env=LOCAL).stdout
    assert "[NOTIFIED]" in line, line


def test_an_alert_that_never_notified_has_no_last_delivery(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push")
    run_cli(
        db_url, "alert", "create", "--metric", "Open Issues", "--name", "Issues", "--when", "> 5"
    )
    assert run_cli(db_url, "--json", "alert", "show", "Issues").json()["last_delivery"] is None
