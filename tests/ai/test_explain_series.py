"""Chat's "why" for an alert over several series, on SQLite and PostgreSQL (issue 16)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.ai.service import chat
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _table(errors: dict[str, int]) -> dict[str, Any]:
    return {"columns": ["service", "errors"], "rows": [[s, n] for s, n in errors.items()]}


def _errors_alert(db: Database, org_id: uuid.UUID, runs: list[dict[str, int]]) -> None:
    with db.begin() as conn:
        metrics = MetricStore(conn, org_id)
        metric = metrics.create(
            {
                "name": "Errors by service",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
            }
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
    for i, errors in enumerate(runs):
        with db.begin() as conn:
            execution = MetricStore(conn, org_id).record_value(
                metric.id, _table(errors), at=T0 + timedelta(minutes=10 * i)
            )
        evaluate_alerts(db, metric.id, execution)


def test_why_counts_the_series_by_state_and_names_the_triggered_ones(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given an alert "> 5" over errors per service, after two runs
    _errors_alert(db, org_id, [{"api": 7, "web": 2, "db": 1}, {"api": 8, "web": 9, "db": 1}])
    # When the user asks why it fired
    out = chat(db, org_id, "why did the errors alert fire?")
    # Then the answer counts the series per state and names the triggered ones
    assert out["intent"] == "explain_alert"
    lines = out["explanation"]["text"].splitlines()
    assert (
        lines[0]
        == '"Too many errors" fires when Errors by service is above 5 (> 5); it is triggered.'
    )
    assert lines[1] == "Series: 2 triggered, 1 ok (of 3)."
    assert lines[2] == "Triggered: service=api (last value 8), service=web (last value 9)."
    assert out["explanation"]["series_states"] == {"triggered": 2, "ok": 1}
    triggered = out["explanation"]["triggered_series"]
    assert [(s["labels"], s["last_value"]) for s in triggered] == [
        ({"service": "api"}, 8),
        ({"service": "web"}, 9),
    ]
    # and each of its last evaluations says which series it was
    evaluations = lines[lines.index("Last evaluations, newest first:") + 1 :]
    assert len(evaluations) == 6  # one per series per run
    newest = [e for e in evaluations if e.startswith("- 2026-01-05 09:10:00 UTC")]
    named = [re.match(r"- \S+ \S+ UTC (\S+): ", e) for e in newest]
    assert sorted(m.group(1) for m in named if m) == ["service=api", "service=db", "service=web"]
    web = next(e for e in newest if " service=web:" in e)
    assert "9 > 5" in web and "(ok -> triggered, " in web
    api = next(e for e in newest if " service=api:" in e)
    assert "(triggered -> triggered, not notified)" in api


def test_why_of_a_single_series_alert_names_no_series(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {"name": "Open Issues", "source": {"type": "push"}}
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Issues",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        execution = MetricStore(conn, org_id).record_value(metric.id, 7, at=T0)
    evaluate_alerts(db, metric.id, execution)
    text = chat(db, org_id, "why did the issues alert fire?")["explanation"]["text"]
    assert "Series:" not in text and "{}" not in text
    assert text.splitlines()[1:] == [
        "Last evaluations, newest first:",
        text.splitlines()[2],
    ]
    assert text.splitlines()[2].startswith("- 2026-01-05 09:00:00 UTC: 7 > 5")
