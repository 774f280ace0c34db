"""Actions and HTTP sources are checked when saved: what the guard would refuse at send
time is refused at once, naming the field and the address; what can only fail later is
saved with a warning."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tocsin.alerts.destinations import check_actions, check_source
from tocsin.api.auth import create_api_key
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.errors import InvalidInput
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

from .helpers import run_cli

OPEN = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}


@pytest.mark.parametrize(
    ("url", "env", "address"),
    [
        ("http://169.254.169.254/latest/meta-data", OPEN, "169.254.169.254"),
        ("http://10.0.0.7/hook", {}, "10.0.0.7"),
        ("http://localhost:9/hook", {}, "127.0.0.1"),
    ],
)
def test_cli_refuses_an_action_the_guard_would_refuse(
    db_url: str, url: str, env: dict[str, str], address: str
) -> None:
    run_cli(db_url, "metric", "create", "m", "--source", "push")
    made = run_cli(
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
        f"webhook:{url}",
        env=env,
    )
    assert made.exit_code == 2, made.stdout
    assert made.stderr.startswith("error: --action") and address in made.stderr, made.stderr
    assert run_cli(db_url, "--json", "alert", "list").json() == []


def test_a_name_that_does_not_resolve_yet_is_saved() -> None:
    def nowhere(host: str) -> list[str]:
        raise OSError("no such host")

    settings = Settings()
    assert (
        check_actions(
            {"type": "webhook", "url": "https://soon.example/x"}, settings, resolve=nowhere
        )
        == []
    )


def test_a_name_resolving_to_a_refused_address_is_refused() -> None:
    def metadata(host: str) -> list[str]:
        return ["93.184.216.34", "169.254.169.254"]

    settings = Settings(allow_private_networks=True)
    with pytest.raises(InvalidInput) as info:
        check_actions(
            [{"type": "log"}, {"type": "slack", "url": "https://hooks.evil.example/x"}],
            settings,
            resolve=metadata,
        )
    assert info.value.field == "action_config[1].url"
    assert "169.254.169.254" in info.value.message
    with pytest.raises(InvalidInput) as source_info:
        check_source(
            {"type": "http", "url": "https://api.evil.example/n"}, settings, resolve=metadata
        )
    assert source_info.value.field == "source.url"


def test_slack_channel_without_a_bot_token_is_saved_with_a_warning(
    db: Database, db_url: str
) -> None:
    run_cli(db_url, "metric", "create", "m", "--source", "push")
    made = run_cli(
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
        "slack-channel:C0123",
    )
    assert made.exit_code == 0
    assert "warning: action_config: slack channel C0123 needs TOCSIN_SLACK_BOT_TOKEN" in made.stderr
    with db.begin() as conn:
        _, key = create_api_key(conn, get_or_create_org(conn, "default"), "t", role="editor")
    app = create_app(db, Settings(database_url=db_url), runner_status=lambda: {"alive": True})
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        body = {
            "metric_id": "m",
            "name": "b",
            "comparison_op": "gt",
            "threshold_value": 5,
            "action_config": {"type": "slack", "channelId": "C0123"},
        }
        resp = client.post("/api/v1/alerts", json=body, headers=headers)
        assert resp.status_code == 201
        assert "TOCSIN_SLACK_BOT_TOKEN" in resp.json()["warnings"][0]
        refused = client.post(
            "/api/v1/alerts",
            json=body
            | {"name": "c", "action_config": {"type": "webhook", "url": "http://169.254.169.254/"}},
            headers=headers,
        )
        assert refused.status_code == 422
        (error,) = refused.json()["detail"]
        assert error["field"] == "action_config.url" and "169.254.169.254" in error["message"]
        source = client.post(
            "/api/v1/metrics",
            json={
                "name": "h",
                "source": {"type": "http", "url": "http://[fe80::1]/"},
                "schedule": {"every_seconds": 60},
            },
            headers=headers,
        )
        assert source.status_code == 422 and source.json()["detail"][0]["field"] == "source.url"


def test_an_unset_dsn_variable_is_a_warning(db_url: str) -> None:
    env = {"TOCSIN_SOURCE_ENV_ALLOW": "SHOP_*"}
    made = run_cli(
        db_url,
        "metric",
        "create",
        "n",
        "--source",
        "sql",
        "--sql",
        "select 1 as n",
        "--dsn-env",
        "SHOP_DB_NOT_SET",
        "--every",
        "1h",
        env=env,
    )
    assert made.exit_code == 0, made.stderr
    assert "warning: source.dsn_env: environment variable SHOP_DB_NOT_SET is not set" in made.stderr
