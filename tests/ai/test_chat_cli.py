"""``tocsin chat`` on the command line: confirmation, dry runs, questions, exit codes."""

from __future__ import annotations

import pytest
from tests.helpers import run_cli
from typer.testing import CliRunner

from tocsin.cli import app
from tocsin.cli.common import hoist_global_options


def _interactive(db_url: str, answer: str, *args: str) -> str:
    runner = CliRunner()
    argv = hoist_global_options(["--database-url", db_url, "chat", *args])
    result = runner.invoke(app, argv, input=answer, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def metric(db_url: str) -> str:
    assert run_cli(db_url, "metric", "create", "Open Issues", "--source", "push").exit_code == 0
    assert run_cli(db_url, "metric", "run", "Open Issues", "--value", "7").exit_code == 0
    return "Open Issues"


def test_asks_before_creating(db_url: str, metric: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tocsin.cli.chat._interactive", lambda: True)
    message = "Notify me on Slack #ops if Open Issues > 5"
    declined = _interactive(db_url, "n\n", message)
    assert "Fires when Open Issues is above 5; Slack #ops; at most once an hour" in declined
    assert "dry run:  now 7: it would fire now" in declined
    assert "backtest: would have fired once in the last run" in declined
    assert "Create this alert? [y/N]" in declined and "alert not created" in declined
    assert run_cli(db_url, "alert", "list", "--json").json() == []
    accepted = _interactive(db_url, "y\n", message)
    assert "created alert Open Issues > 5" in accepted
    [alert] = run_cli(db_url, "alert", "list", "--json").json()
    assert alert["action_config"] == {"type": "slack", "channelId": "#ops"}


def test_dry_run_never_saves_even_with_yes(db_url: str, metric: str) -> None:
    result = run_cli(db_url, "chat", "Notify me if Open Issues > 5", "--dry-run", "--yes")
    assert result.exit_code == 0 and "dry run: nothing saved" in result.stdout
    assert run_cli(db_url, "alert", "list", "--json").json() == []


def test_a_question_exits_0(db_url: str, metric: str) -> None:
    result = run_cli(db_url, "chat", "Notify me if Open Tickets > 5", "--yes")
    assert result.exit_code == 0
    assert 'I don\'t know a metric called "Open Tickets". Did you mean "Open Issues"?' in (
        result.stdout
    )
    as_json = run_cli(db_url, "chat", "notify me if Open Issues is high", "--json").json()
    assert as_json["question"].startswith("At what value") and as_json["saved"] is None
    assert run_cli(db_url, "alert", "list", "--json").json() == []


def test_bad_input_exits_2(db_url: str) -> None:
    empty = run_cli(db_url, "chat", "  ")
    assert empty.exit_code == 2 and "message" in empty.stderr
    bad = run_cli(db_url, "chat", "hi", env={"TOCSIN_LLM_BASE_URL": "ftp://x"})
    assert bad.exit_code == 2 and "TOCSIN_LLM_BASE_URL" in bad.stderr


def test_mute_and_explain_through_the_cli(db_url: str, metric: str) -> None:
    run_cli(db_url, "chat", "Notify me if Open Issues > 5", "--yes")
    proposed = run_cli(db_url, "chat", "mute the open issues alert for 2 hours")
    assert proposed.exit_code == 0 and "--yes" in proposed.stdout
    assert (
        run_cli(db_url, "alert", "show", "Open Issues > 5", "--json").json()["muted_until"] is None
    )
    muted = run_cli(db_url, "chat", "mute the open issues alert for 2 hours", "--yes", "--json")
    assert muted.json()["muted"]["muted_until"] is not None
    run_cli(db_url, "metric", "run", "Open Issues", "--value", "3")
    why = run_cli(db_url, "chat", "why didn't the issues alert fire?")
    assert "3 <= 5: condition not met" in why.stdout


def test_unused_words_are_listed(db_url: str, metric: str) -> None:
    out = run_cli(db_url, "chat", "notify me asap if Open Issues > 5", "--json").json()
    assert out["unparsed"] == ["asap"] and out["draft"]["comparison_op"] == "gt"
    assert out["summary"].endswith('. I ignored: "asap"')
    human = run_cli(db_url, "chat", "notify me asap if Open Issues > 5", "--dry-run").stdout
    assert 'I ignored: "asap"' in human


def test_a_meaning_changing_word_is_a_question_not_an_alert(db_url: str, metric: str) -> None:
    result = run_cli(db_url, "chat", "notify me if Open Issues > 5 for a while", "--yes",
                     "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = result.json()
    assert out["draft"] is None and out["saved"] is None
    assert "for a while" in out["question"] and "for 10 minutes" in out["question"]
    assert out["unparsed"] == ["for a while"]
    # A duration it can read is no question: the alert holds it
    held = run_cli(db_url, "chat", "notify me if Open Issues > 5 for 10 minutes", "--yes",
                   "--json").json()  # fmt: skip
    assert held["saved"]["for_seconds"] == 600
    negated = run_cli(db_url, "chat", "notify me unless Open Issues is below 5", "--yes",
                      "--json").json()  # fmt: skip
    assert negated["saved"]["comparison_op"] == "gte" and negated["saved"]["threshold_value"] == 5
    assert any('"unless … below 5" as >= 5' in n for n in negated["notes"])
    listed = run_cli(db_url, "alert", "list", "--json").json()
    assert sorted(a["comparison_op"] for a in listed) == ["gt", "gte"]


def test_the_explanation_says_whether_the_notification_reached_anyone(
    db_url: str, metric: str, sink: object
) -> None:
    from tests.channels.channel_support import Reply

    env = {"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"}
    sink.default = Reply(status=404)  # type: ignore[attr-defined]
    url = f"{sink.url}/hook"  # type: ignore[attr-defined]
    made = run_cli(
        db_url,
        "alert",
        "create",
        "--metric",
        metric,
        "--name",
        "Issues",
        "--when",
        "> 5",
        "--action",
        f"webhook:{url}",
        env=env,
    )
    assert made.exit_code == 0, made.stderr
    run_cli(db_url, "metric", "run", metric, "--value", "9", env=env)
    why = run_cli(db_url, "chat", "why didn't the Issues alert fire?").stdout
    assert "notification failed: webhook HTTP 404" in why, why
    assert ", notified)" not in why


def test_a_slack_channel_without_a_bot_token_is_said_in_the_summary(
    db_url: str, metric: str
) -> None:
    planned = run_cli(db_url, "chat", "Notify me on Slack #ops if Open Issues > 5", "--json")
    data = planned.json()
    assert "TOCSIN_SLACK_BOT_TOKEN" in data["summary"]
    assert any("TOCSIN_SLACK_BOT_TOKEN" in w for w in data["warnings"])
