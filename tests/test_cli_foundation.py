"""The CLI contract: create, show as JSON, and refuse bad input with exit 2."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import run_cli

ALERT_FIELDS = {
    "id",
    "org_id",
    "metric_id",
    "name",
    "condition_type",
    "comparison_op",
    "threshold_value",
    "change_mode",
    "lookback",
    "action_config",
    "enabled",
    "cooldown_seconds",
    "pending_evaluations",
    "notify_on_resolve",
    "muted_until",
    "state",
    "last_triggered_at",
    "last_evaluated_at",
    "last_value",
    "created_at",
    "updated_at",
}
METRIC_FIELDS = {
    "id",
    "org_id",
    "name",
    "description",
    "source",
    "selector",
    "schedule",
    "enabled",
    "next_run_at",
    "created_at",
    "updated_at",
    "expect_every_seconds",
}


def _snapshot(db_url: str) -> Any:
    metrics = run_cli(db_url, "metric", "list", "--json").json()
    alerts = run_cli(db_url, "alert", "list", "--json").json()
    return metrics, alerts


def test_seed_alert_through_the_cli(db_url: str) -> None:
    metric = run_cli(db_url, "metric", "create", "Open Issues", "--source", "push", "--json")
    assert metric.exit_code == 0, metric.stderr
    assert set(metric.json()) == METRIC_FIELDS
    created = run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        "Open Issues",
        "--name",
        "Notify if Issues > 5",
        "--when",
        "> 5",
        "--action",
        "log",
        "--json",
    )
    assert created.exit_code == 0, created.stderr
    alert = created.json()
    assert set(alert) >= ALERT_FIELDS
    assert alert["metric_id"] == metric.json()["id"]
    assert (alert["condition_type"], alert["comparison_op"], alert["threshold_value"]) == (
        "threshold",
        "gt",
        5,
    )
    assert alert["action_config"] == {"type": "log"}
    assert alert["enabled"] is True and alert["last_triggered_at"] is None
    shown = run_cli(db_url, "alert", "show", "Notify if Issues > 5", "--json").json()
    # show adds the last notification's real status (none yet)
    assert shown == alert | {"last_delivery": None}
    human = run_cli(db_url, "alert", "show", alert["id"])
    assert "Notify if Issues > 5" in human.stdout and "> 5" in human.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["alert", "create", "--metric", "Open Issues", "--name", "x", "--when", "> five"],
            "--when",
        ),
        (
            ["alert", "create", "--metric", "Nope", "--name", "x", "--when", "> 5"],
            "no metric named 'Nope'",
        ),
        (
            [
                "alert",
                "create",
                "--metric",
                "Open Issues",
                "--name",
                "x",
                "--when",
                "> 5",
                "--action",
                "carrier-pigeon:coo",
            ],
            "--action",
        ),
        (
            [
                "alert",
                "create",
                "--metric",
                "Open Issues",
                "--name",
                "x",
                "--when",
                "> 5",
                "--action",
                "webhook:ftp://x",
            ],
            "--action",
        ),
        (
            [
                "alert",
                "create",
                "--metric",
                "Open Issues",
                "--name",
                "x",
                "--when",
                "> 5",
                "--cooldown",
                "soon",
            ],
            "--cooldown",
        ),
        (
            [
                "alert",
                "create",
                "--metric",
                "Open Issues",
                "--name",
                "x",
                "--when",
                "> 5",
                "--pending",
                "0",
            ],
            "--pending",
        ),
        (
            ["alert", "create", "--metric", "Open Issues", "--name", "existing", "--when", "> 5"],
            "already exists",
        ),
        (["alert", "mute", "existing", "--for", "later"], "--for"),
        (["alert", "show", "missing"], "not found"),
        (["metric", "create", "Stars", "--source", "carrier-pigeon"], "--source"),
        (
            [
                "metric",
                "create",
                "Stars",
                "--source",
                "http",
                "--url",
                "https://x.test/",
                "--every",
                "often",
            ],
            "--every",
        ),
        (
            [
                "metric",
                "create",
                "Stars",
                "--source",
                "http",
                "--url",
                "https://x.test/",
                "--cron",
                "every tuesday",
            ],
            "--cron",
        ),
        (
            [
                "metric",
                "create",
                "Stars",
                "--source",
                "http",
                "--url",
                "https://x.test/",
                "--json-path",
                "$[[[",
                "--every",
                "1m",
            ],
            "--json-path",
        ),
        (["metric", "create", "Stars", "--source", "sql", "--sql", "select 1"], "--dsn-env"),
        (["metric", "create", "Stars", "--source", "push", "--every", "1m"], "schedule"),
        (["metric", "show", "missing"], "not found"),
    ],
)
def test_bad_input_exits_2_names_the_field_and_changes_nothing(
    db_url: str, args: list[str], needle: str
) -> None:
    assert run_cli(db_url, "metric", "create", "Open Issues", "--source", "push").exit_code == 0
    assert (
        run_cli(
            db_url,
            "alert",
            "create",
            "--metric",
            "Open Issues",
            "--name",
            "existing",
            "--when",
            "> 5",
        ).exit_code
        == 0
    )
    before = _snapshot(db_url)
    result = run_cli(db_url, *args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert needle in result.stderr
    assert _snapshot(db_url) == before


def test_mute_unmute_enable_disable_delete(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues")
    run_cli(db_url, "alert", "create", "--metric", "Open Issues", "--name", "a", "--when", ">5")
    muted = run_cli(db_url, "alert", "mute", "a", "--for", "2h", "--json").json()
    assert muted["muted_until"] is not None
    assert run_cli(db_url, "alert", "unmute", "a", "--json").json()["muted_until"] is None
    assert run_cli(db_url, "alert", "disable", "a", "--json").json()["enabled"] is False
    assert run_cli(db_url, "alert", "enable", "a", "--json").json()["enabled"] is True
    assert run_cli(db_url, "alert", "history", "a", "--json").json() == []
    assert run_cli(db_url, "alert", "delete", "a").exit_code == 0
    assert run_cli(db_url, "alert", "list", "--json").json() == []


def test_orgs_are_created_on_first_use_and_kept_apart(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", org="team-a")
    assert run_cli(db_url, "metric", "list", "--json", org="team-b").json() == []
    assert len(run_cli(db_url, "metric", "list", "--json", org="team-a").json()) == 1


def test_alert_with_several_actions_and_relative_change(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Signups")
    out = run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        "Signups",
        "--name",
        "drop",
        "--condition",
        "relative_change",
        "--when",
        "< -20%",
        "--lookback",
        "1",
        "--action",
        "log",
        "--action",
        '{"type":"webhook","url":"https://h.test/x","secret":"s3cret-value"}',
        "--json",
    )
    assert out.exit_code == 0, out.stderr
    alert = out.json()
    assert alert["condition_type"] == "relative_change" and alert["change_mode"] == "percent"
    assert alert["threshold_value"] == -20
    assert [a["type"] for a in alert["action_config"]] == ["log", "webhook"]
    assert "s3cret-value" not in out.stdout
