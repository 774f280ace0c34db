"""The planner and ``chat`` against a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.helpers import run_cli

from tocsin.ai.planner import plan
from tocsin.ai.proposals import CreateAlertArgs
from tocsin.ai.service import chat
from tocsin.ai.settings import PlannerSettings
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _metric(db: Database, org_id: uuid.UUID, name: str, values: list[object] = ()) -> Metric:  # type: ignore[assignment]
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": name, "source": {"type": "push"}})
        for i, value in enumerate(values):
            store.record_value(metric.id, value, at=T0 + timedelta(minutes=10 * i))
    return metric


def _alerts(db: Database, org_id: uuid.UUID) -> list[str]:
    with db.connect() as conn:
        return [a.name for a in AlertStore(conn, org_id).list_alerts()]


def test_seed_example_end_to_end(db_url: str) -> None:
    assert run_cli(db_url, "metric", "create", "Open Issues", "--source", "push").exit_code == 0
    created = run_cli(db_url, "chat", "Notify me if Open Issues > 5", "--yes", "--json")
    assert created.exit_code == 0, created.stderr
    out = created.json()
    assert out["intent"] == "create_alert" and out["question"] is None
    saved = out["saved"]
    assert saved["comparison_op"] == "gt" and saved["threshold_value"] == 5
    metric = run_cli(db_url, "metric", "show", "Open Issues", "--json").json()
    assert saved["metric_id"] == metric["id"]
    shown = run_cli(db_url, "alert", "show", saved["name"], "--json").json()
    assert shown["id"] == saved["id"] and shown["condition_type"] == "threshold"

    fired = run_cli(db_url, "metric", "run", "Open Issues", "--value", "6", "--json")
    assert fired.exit_code == 0, fired.stderr
    [evaluation] = fired.json()["evaluations"]
    assert evaluation["alert_id"] == saved["id"]
    assert evaluation["triggered"] is True and evaluation["notified"] is True
    assert evaluation["state_to"] == "triggered"
    assert [(d["kind"], d["status"]) for d in fired.json()["deliveries"]] == [("trigger", "sent")]


def test_a_draft_is_never_saved_without_confirmation(db: Database, org_id: uuid.UUID) -> None:
    _metric(db, org_id, "Open Issues", [7])
    message = "Notify me on Slack #ops if Open Issues > 5"
    proposed = chat(db, org_id, message)
    assert proposed["draft"]["comparison_op"] == "gt" and proposed["saved"] is None
    assert proposed["confirm_needed"] is True
    assert _alerts(db, org_id) == []
    dry = chat(db, org_id, message, confirm=True, dry_run=True)
    assert dry["saved"] is None and dry["dry_run"]["text"] == "now 7: it would fire now"
    assert _alerts(db, org_id) == []
    done = chat(db, org_id, message, confirm=True)
    assert done["saved"]["name"] == "Open Issues > 5"
    assert done["summary"] == (
        "Fires when Open Issues is above 5; Slack #ops; at most once an hour; note: "
        "action_config: slack channel #ops needs TOCSIN_SLACK_BOT_TOKEN on the server; "
        "until it is set, its notifications fail"
    )
    assert _alerts(db, org_id) == ["Open Issues > 5"]


def test_cli_without_yes_and_without_a_terminal_saves_nothing(db_url: str) -> None:
    run_cli(db_url, "metric", "create", "Open Issues", "--source", "push")
    result = run_cli(db_url, "chat", "Notify me if Open Issues > 5")
    assert result.exit_code == 0
    assert "Fires when Open Issues is above 5" in result.stdout and "--yes" in result.stdout
    assert run_cli(db_url, "alert", "list", "--json").json() == []
    dry = run_cli(db_url, "chat", "Notify me if Open Issues > 5", "--yes", "--dry-run", "--json")
    assert dry.json()["saved"] is None and dry.json()["draft"]["threshold_value"] == 5
    assert run_cli(db_url, "alert", "list", "--json").json() == []


def test_another_orgs_metric_or_alert_is_never_matched(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        other = get_or_create_org(conn, "other")
    theirs = _metric(db, other, "Revenue", [100])
    _metric(db, org_id, "Open Issues")
    chat(db, other, "notify me if Revenue > 5", confirm=True)

    for message in ("notify me if Revenue > 5", "notify me if Revenu > 5"):
        out = chat(db, org_id, message, confirm=True)
        assert out["draft"] is None and out["saved"] is None
        assert out["candidates"] == [] and out["question"].endswith('Your metrics: "Open Issues".')
    by_id = chat(db, org_id, f"notify me if {theirs.id} > 5", confirm=True)
    assert by_id["saved"] is None
    with db.connect() as conn:
        proposal = CreateAlertArgs(metric=str(theirs.id), comparison_op="gt", threshold_value=5)
        from tocsin.ai.planner import realize

        direct = realize(conn, org_id, proposal, settings=PlannerSettings())
    assert direct.draft is None and direct.question is not None
    for message in ("mute the Revenue alert for 2 hours", "why didn't the Revenue alert fire?"):
        out = chat(db, org_id, message, confirm=True)
        assert out["muted"] is None and out["explanation"] is None and out["question"]
    assert _alerts(db, org_id) == []


def test_unknown_and_ambiguous_metrics_get_questions(db: Database, org_id: uuid.UUID) -> None:
    for name in ("Daily Signups", "Weekly Signups", "Open Issues"):
        _metric(db, org_id, name)
    ambiguous = chat(db, org_id, "notify me if signups < 5", confirm=True)
    assert ambiguous["saved"] is None and ambiguous["draft"] is None
    assert {"Daily Signups", "Weekly Signups"} <= set(ambiguous["candidates"])
    unknown = chat(db, org_id, "notify me if Open Tickets > 5", confirm=True)
    assert unknown["candidates"] == ["Open Issues"] and "Did you mean" in unknown["question"]
    no_threshold = chat(db, org_id, "notify me if Open Issues is high", confirm=True)
    assert "At what value" in no_threshold["question"] and no_threshold["saved"] is None
    typo = chat(db, org_id, "notify me if Open Isues > 5")
    assert typo["draft"]["metric_id"] and typo["metric"]["name"] == "Open Issues"
    assert _alerts(db, org_id) == []


def test_names_are_generated_and_never_clash(db: Database, org_id: uuid.UUID) -> None:
    _metric(db, org_id, "Open Issues")
    assert chat(db, org_id, "Notify me if Open Issues > 5", confirm=True)["saved"]
    second = chat(db, org_id, "Notify me if Open Issues > 5", confirm=True)
    assert second["saved"]["name"] == "Open Issues > 5 (2)"
    named = chat(db, org_id, 'Notify me if Open Issues > 9, called "Open Issues > 5"', confirm=True)
    assert named["saved"] is None and "already exists" in named["question"]
    change = chat(db, org_id, "Notify me when Open Issues drops by more than 20%")
    assert change["draft"]["name"] == "Open Issues change < -20%"


def test_backtest_gives_exactly_what_live_evaluation_gave(db: Database, org_id: uuid.UUID) -> None:
    values: list[object] = [100, 70, 50, 60, 40, 30, {"oops": 1}, 20, 15, 100, 60, 40]
    metric = _metric(db, org_id, "Daily Signups", values)
    message = "notify me when Daily Signups drops by more than 20% every time for 2 runs in a row"
    planned = plan(message, org_id, db=db, settings=PlannerSettings())
    assert planned.draft is not None and planned.backtest is not None
    assert planned.draft.pending_evaluations == 2 and planned.draft.cooldown_seconds == 0

    with db.begin() as conn:
        AlertStore(conn, org_id).create_alert(planned.draft)
        executions = sorted(
            MetricStore(conn, org_id).executions(metric.id), key=lambda e: e.completed_at or T0
        )
    fired = [
        e.completed_at
        for e in executions
        if any(x.decision.notify == "trigger" for x in evaluate_alerts(db, metric.id, e).evaluated)
    ]
    assert planned.backtest["runs"] == len(values)
    assert planned.backtest["fired"] == len(fired) > 0
    assert planned.backtest["last_fired_at"] == fired[-1].isoformat()  # type: ignore[union-attr]
    assert "would have fired" in planned.backtest["text"]


def test_dry_run_reads_the_latest_value_with_the_metric_selector(
    db: Database, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create(
            {"name": "Queue Depth", "source": {"type": "push"}, "selector": {"column": "depth"}}
        )
        store.record_value(metric.id, {"depth": 9}, at=T0)
        store.record_value(metric.id, {"depth": 3}, at=T0 + timedelta(minutes=5))
    quiet = chat(db, org_id, "alert me if Queue Depth > 5")
    assert quiet["dry_run"]["value"] == 3 and quiet["dry_run"]["would_fire"] is False
    assert quiet["dry_run"]["text"] == "now 3: it would not fire now"
    assert quiet["backtest"]["fired"] == 1 and quiet["backtest"]["runs"] == 2
    empty = _metric(db, org_id, "Fresh")
    out = chat(db, org_id, "alert me if Fresh > 5")
    assert out["dry_run"]["text"].startswith("no completed run yet") and empty.id
    assert out["backtest"]["text"] == "no recorded runs to backtest"


def test_mute_is_proposed_and_applied_only_on_confirmation(db: Database, org_id: uuid.UUID) -> None:
    _metric(db, org_id, "Daily Signups")
    chat(db, org_id, "email growth@example.com when Daily Signups drops by 20%", confirm=True)
    proposed = chat(db, org_id, "mute the signups alert for 2 hours")
    assert proposed["intent"] == "mute_alert" and proposed["muted"] is None
    assert proposed["mute"]["for_seconds"] == 7200
    with db.connect() as conn:
        assert AlertStore(conn, org_id).list_alerts()[0].muted_until is None
    applied = chat(db, org_id, "mute the signups alert for 2 hours", confirm=True)
    until = datetime.fromisoformat(applied["muted"]["muted_until"])
    assert timedelta(minutes=119) < until - datetime.now(UTC) <= timedelta(hours=2)


def test_explain_and_list(db: Database, org_id: uuid.UUID) -> None:
    metric = _metric(db, org_id, "API Errors")
    chat(db, org_id, "notify me if API Errors > 10", confirm=True)
    with db.begin() as conn:
        execution = MetricStore(conn, org_id).record_value(metric.id, 4)
    evaluate_alerts(db, metric.id, execution)
    out = chat(db, org_id, "why didn't the errors alert fire?")
    assert out["intent"] == "explain_alert"
    [row] = out["explanation"]["history"]
    assert row["triggered"] is False and row["value"] == 4
    assert "4 <= 10: condition not met" in out["explanation"]["text"]
    listed = chat(db, org_id, "list my alerts")
    assert [a["name"] for a in listed["alerts"]] == ["API Errors > 10"]
    assert Decimal(str(listed["alerts"][0]["threshold_value"])) == 10
