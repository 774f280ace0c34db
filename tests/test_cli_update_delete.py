"""``alert update`` / ``metric update`` change only what is given; ``metric delete`` asks
before it takes alerts and history with it; human output is in words."""

from __future__ import annotations

from .helpers import run_cli


def _seed(db_url: str) -> None:
    assert run_cli(db_url, "metric", "create", "Open Issues", "--source", "push").exit_code == 0
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
        "webhook:https://hooks.example.com/tocsin",
    )
    assert made.exit_code == 0, made.stderr


def test_alert_update_changes_only_what_is_given(db_url: str) -> None:
    _seed(db_url)
    before = run_cli(db_url, "--json", "alert", "show", "Issues").json()
    updated = run_cli(
        db_url, "--json", "alert", "update", "Issues", "--when", ">= 7", "--cooldown", "10m"
    )
    assert updated.exit_code == 0, updated.stderr
    after = updated.json()
    assert (after["comparison_op"], after["threshold_value"], after["cooldown_seconds"]) == (
        "gte",
        7,
        600,
    )
    for unchanged in (
        "name",
        "metric_id",
        "action_config",
        "pending_evaluations",
        "notify_on_resolve",
    ):
        assert after[unchanged] == before[unchanged]
    assert (
        run_cli(db_url, "--json", "alert", "update", "Issues", "--no-resolve").json()[
            "notify_on_resolve"
        ]
        is False
    )


def test_bad_update_changes_nothing(db_url: str) -> None:
    _seed(db_url)
    before = run_cli(db_url, "--json", "alert", "show", "Issues").json()
    for args, flag in (
        (["--when", "> five"], "--when"),
        (["--cooldown", "soon"], "--cooldown"),
        (["--metric", "Nope"], "--metric"),
        (["--action", "carrier-pigeon:x"], "--action"),
        ([], "ALERT"),
    ):
        given = ["--name", "renamed", *args] if args else []
        result = run_cli(db_url, "alert", "update", "Issues", *given)
        assert result.exit_code == 2, (args, result.stderr)
        assert flag in result.stderr, (args, result.stderr)
    assert run_cli(db_url, "--json", "alert", "show", "Issues").json() == before


def test_metric_update(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Demo", "--source", "demo", "--every", "5s")
    updated = run_cli(
        db_url, "--json", "metric", "update", "Demo", "--every", "1m", "--description", "d"
    )
    assert updated.exit_code == 0, updated.stderr
    assert (
        updated.json()["schedule"] == {"every_seconds": 60} and updated.json()["description"] == "d"
    )
    bad = run_cli(db_url, "metric", "update", "Demo", "--every", "5")
    assert bad.exit_code == 2 and "--every" in bad.stderr
    assert run_cli(db_url, "--json", "metric", "show", "Demo").json()["schedule"] == {
        "every_seconds": 60
    }
    shown = run_cli(db_url, "metric", "show", "Demo").stdout
    assert "schedule: every 1m" in shown and "{" not in shown


def test_metric_delete_asks_first_when_it_has_alerts_or_history(db_url: str) -> None:
    _seed(db_url)
    # No terminal and no --yes: nothing deleted, exit 2 naming --yes
    refused = run_cli(db_url, "metric", "delete", "Open Issues")
    assert refused.exit_code == 2 and "--yes" in refused.stderr and "1 alert(s)" in refused.stderr
    assert len(run_cli(db_url, "--json", "metric", "list").json()) == 1
    assert run_cli(db_url, "metric", "delete", "Open Issues", "--yes").exit_code == 0
    assert run_cli(db_url, "--json", "metric", "list").json() == []
    # A metric with nothing behind it goes without a question
    run_cli(db_url, "metric", "create", "Empty", "--source", "push")
    assert run_cli(db_url, "metric", "delete", "Empty").exit_code == 0


def test_an_action_error_names_the_flag_once(db_url: str) -> None:
    _seed(db_url)
    result = run_cli(db_url, "alert", "update", "Issues", "--action", "carrier-pigeon:x")
    assert result.stderr.count("--action:") == 1, result.stderr


def test_alert_show_says_actions_in_words(db_url: str) -> None:
    _seed(db_url)
    shown = run_cli(db_url, "alert", "show", "Issues").stdout
    assert "actions:    webhook https://hooks.example.com/***" in shown
    assert "{" not in shown


def test_deliveries_list_names_the_alert_and_filters_by_it(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "m", "--source", "push")
    for name in ("first", "second"):
        run_cli(db_url, "alert", "create", "--metric", "m", "--name", name, "--when", "> 5")
    run_cli(db_url, "metric", "run", "m", "--value", "6")
    listed = run_cli(db_url, "--json", "deliveries", "list").json()
    assert sorted(d["alert_name"] for d in listed) == ["first", "second"]
    only = run_cli(db_url, "--json", "deliveries", "list", "--alert", "second").json()
    assert [d["alert_name"] for d in only] == ["second"]
    assert "second" in run_cli(db_url, "deliveries", "list").stdout
    assert run_cli(db_url, "deliveries", "list", "--alert", "nope").exit_code == 2


def test_with_json_errors_are_json_on_stderr_with_the_same_exit_codes(db_url: str) -> None:
    import json

    run_cli(db_url, "metric", "create", "m", "--source", "push")
    bad = run_cli(
        db_url, "--json", "alert", "create", "--metric", "m", "--name", "a", "--when", "> five"
    )
    assert bad.exit_code == 2 and bad.stdout == ""
    error = json.loads(bad.stderr)["error"]
    assert error["field"] == "--when" and "expected an operator" in error["message"]
    missing = run_cli(db_url, "--json", "alert", "show", "nope")
    assert missing.exit_code == 2
    assert json.loads(missing.stderr) == {"error": {"message": "alert 'nope' not found"}}
    human = run_cli(db_url, "alert", "create", "--metric", "m", "--name", "a", "--when", "> five")
    assert human.stderr.startswith("error: --when: '> five'")
