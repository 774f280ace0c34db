"""The backtest and the dry run of a metric with series: each series on its own, as live
evaluation decides it, on SQLite and PostgreSQL (issue 16, item 4)."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from tocsin.ai.preview import backtest, dry_run, run_backtest
from tocsin.alerts.decision import AlertRule
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# Errors per service, one run every ten minutes; batch is missing from the last run.
RUNS: list[dict[str, int]] = [
    {"api": 7, "web": 2, "batch": 9},
    {"api": 8, "web": 6, "batch": 1},
    {"api": 3, "web": 7, "batch": 9},
    {"api": 9, "web": 1},
]
ABOVE_5 = AlertRule("threshold", "gt", Decimal(5))


def _table(errors: dict[str, int]) -> dict[str, Any]:
    return {"columns": ["service", "errors"], "rows": [[s, n] for s, n in errors.items()]}


def _metric(db: Database, org_id: uuid.UUID, runs: list[dict[str, int]] = RUNS) -> Metric:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create(
            {
                "name": "Errors by service",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
            }
        )
        for i, errors in enumerate(runs):
            store.record_value(metric.id, _table(errors), at=T0 + timedelta(minutes=10 * i))
    return metric


def _live(db: Database, org_id: uuid.UUID, metric: Metric, **alert: Any) -> Counter[str]:
    """What live evaluation notified per service, over the same recorded runs."""
    with db.begin() as conn:
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
            | alert
        )
        runs = sorted(MetricStore(conn, org_id).executions(metric.id), key=lambda e: e.started_at)
    fired: Counter[str] = Counter()
    for execution in runs:
        for e in evaluate_alerts(db, metric.id, execution).evaluated:
            if e.decision.notify == "trigger":
                fired[e.history["labels"]["service"]] += 1
    return fired


def _fired(summary: dict[str, Any]) -> Counter[str]:
    return Counter({s["labels"]["service"]: s["fired"] for s in summary["series_fired"]})


def test_backtest_evaluates_each_series_with_its_own_cooldown(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given errors per service over four runs, ten minutes apart
    metric = _metric(db, org_id)
    # When an alert "> 5" with an hour's cooldown is backtested
    with db.connect() as conn:
        summary = backtest(conn, metric, ABOVE_5)
    # Then each service fired once: api's and batch's second breaches fall inside their
    # own cooldown, web's first breach is not held back by api's firing
    assert summary["text"] == (
        "would have fired 3 times over 4 runs, in 3 of 3 series: service=api (1), "
        "service=batch (1), service=web (1); last on 2026-01-05 09:10 UTC"
    )
    assert (summary["runs"], summary["fired"], summary["series_count"]) == (4, 3, 3)
    # and that is exactly what live evaluation does with the same runs
    assert _fired(summary) == _live(db, org_id, metric)


def test_backtest_without_cooldown_counts_every_breaching_run_per_series(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id)
    with db.connect() as conn:
        # No cooldown and a reminder every run: every breaching run notifies.
        every_run = ABOVE_5._replace(cooldown_seconds=0, repeat_every_seconds=0)
        summary = backtest(conn, metric, every_run)
    assert summary["text"].startswith(
        "would have fired 7 times over 4 runs, in 3 of 3 series: service=api (3), "
        "service=batch (2), service=web (2)"
    )
    assert _fired(summary) == _live(db, org_id, metric, cooldown_seconds=0, repeat_every_seconds=0)


def test_backtest_honours_the_series_filter(db: Database, org_id: uuid.UUID) -> None:
    metric = _metric(db, org_id)
    with db.connect() as conn:
        summary = backtest(conn, metric, ABOVE_5, series_filter=["service!=batch"])
    assert "in 2 of 2 series: service=api (1), service=web (1)" in summary["text"]
    assert "batch" not in summary["text"]
    assert _fired(summary) == _live(db, org_id, metric, series_filter=["service!=batch"])


def test_backtest_of_a_relative_change_compares_each_series_with_itself(
    db: Database, org_id: uuid.UUID
) -> None:
    # Signups per country: DE halves on the third run, FR grows; a new country has no
    # baseline yet.
    runs = [{"DE": 100, "FR": 50}, {"DE": 100, "FR": 60}, {"DE": 50, "FR": 80, "IT": 1}]
    metric = _metric(db, org_id, runs)
    drop = AlertRule(
        "relative_change", "lte", Decimal(-20), cooldown_seconds=0, repeat_every_seconds=0
    )
    with db.connect() as conn:
        summary = backtest(conn, metric, drop)
        now = dry_run(conn, metric, drop)
    assert "in 1 of 3 series: service=DE (1)" in summary["text"]
    assert now["would_fire"] is True
    assert now["text"] == (
        "now 1 of 3 series breach: service=DE (50): it would fire now "
        "(1 not checked: baseline: the series was not in that run)"
    )
    assert now["breaching"] == [{"labels": {"service": "DE"}, "value": 50}]


def test_dry_run_names_the_series_that_breach_now(db: Database, org_id: uuid.UUID) -> None:
    metric = _metric(db, org_id)
    with db.connect() as conn:
        now = dry_run(conn, metric, ABOVE_5)
        held = dry_run(conn, metric, ABOVE_5._replace(pending_evaluations=3))
        quiet = dry_run(conn, metric, ABOVE_5, series_filter=["service=web"])
    # The latest run: api 9, web 1 (batch is not in it)
    assert now["text"] == "now 1 of 2 series breach: service=api (9): it would fire now"
    assert now["would_fire"] is True and now["series_count"] == 2
    assert held["text"] == (
        "now 1 of 2 series breach: service=api (9); it fires after 3 runs in a row"
    )
    assert held["would_fire"] is False and held["condition_met"] is True
    assert quiet["text"] == "now none of 1 series breaches: it would not fire now"


def test_backtest_of_labelled_pushes_without_series_by(db: Database, org_id: uuid.UUID) -> None:
    # Each service pushes its own number: a run names one series, the others are not absent
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "Queue depth", "source": {"type": "push"}})
        pushes = [("a", 7), ("b", 2), ("a", 8), ("b", 9)]
        for i, (queue, depth) in enumerate(pushes):
            store.record_value(
                metric.id,
                {"value": depth, "labels": {"queue": queue}},
                at=T0 + timedelta(minutes=i),
            )
    with db.connect() as conn:
        summary = backtest(conn, metric, ABOVE_5)
    assert (
        "would have fired 2 times over 4 runs, in 2 of 2 series: queue=a (1), queue=b (1)"
        in (summary["text"])
    )


def test_a_metric_without_series_backtests_as_before(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "Open Issues", "source": {"type": "push"}})
        for i, value in enumerate([4, 6, 3, 8]):
            store.record_value(metric.id, value, at=T0 + timedelta(minutes=10 * i))
    with db.connect() as conn:
        result = run_backtest(conn, metric, ABOVE_5)
        now = dry_run(conn, metric, ABOVE_5)
    assert result.summary["text"].startswith("would have fired once in the last 4 runs")
    assert "series_count" not in result.summary and result.chart_labels is None
    assert now["text"] == "now 8: it would fire now"


def _form(metric: Metric, **fields: Any) -> dict[str, Any]:
    return {
        "metric_id": str(metric.id),
        "name": "Too many errors",
        "condition_type": "threshold",
        "comparison_op": "gt",
        "threshold_value": "5",
        "change_mode": "percent",
        "lookback": "1",
        "pending_evaluations": "1",
        "cooldown_seconds": "0",
        "repeat_every_seconds": "0",
        "enabled": "on",
        "action_type": ["log"],
        "action_target": [""],
        "action_secret": [""],
    } | fields


def _ui(db: Database, db_url: str) -> TestClient:
    settings = Settings(database_url=db_url, secret_key="test-secret-key-for-ui-sessions")
    return TestClient(create_app(db, settings, ui_bind_host="127.0.0.1"))


def _post(ui: TestClient, path: str, form: dict[str, Any]) -> Any:
    page = ui.get("/ui/alerts/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page) or re.search(
        r'"X-CSRF-Token": "([^"]+)"', page
    )
    assert token is not None
    return ui.post(path, data={"csrf_token": token.group(1)} | form, follow_redirects=False)


def test_the_editor_preview_says_which_series_would_have_fired(db: Database, db_url: str) -> None:
    with db.begin() as conn:
        default = get_or_create_org(conn, "default")  # the org of the UI on loopback
    metric = _metric(db, default)
    with _ui(db, db_url) as ui:
        shown = _post(ui, "/ui/alerts/preview", _form(metric)).text
    assert "now 1 of 2 series breach: service=api (9): it would fire now" in shown
    assert "would have fired 7 times over 4 runs, in 3 of 3 series: service=api (3)" in shown
    # The chart draws one series, the one that fired most, and says which
    assert "The chart shows the series service=api (of 3)." in shown


def test_editing_an_alert_keeps_its_series_filter_and_previews_with_it(
    db: Database, db_url: str
) -> None:
    # Given an alert that leaves batch out (set through the API or the CLI: the form has
    # no field for it)
    with db.begin() as conn:
        default = get_or_create_org(conn, "default")
    metric = _metric(db, default)
    with db.begin() as conn:
        alert = AlertStore(conn, default).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
                "series_filter": ["service!=batch"],
                "resolve_missing_after": 5,
            }
        )
    with _ui(db, db_url) as ui:
        # When its edit form is previewed, then saved with a new threshold
        shown = _post(ui, "/ui/alerts/preview", _form(metric, alert_id=str(alert.id))).text
        saved = _post(ui, f"/ui/alerts/{alert.id}/edit", _form(metric, threshold_value="6"))
    # Then the preview watched only the series the alert watches
    assert "in 2 of 2 series: service=api (3), service=web (2)" in shown
    # and the saved alert still leaves batch out
    assert saved.status_code == 303, saved.text
    with db.connect() as conn:
        kept = AlertStore(conn, default).get_alert(alert.id)
    assert kept.threshold_value == 6
    assert (kept.series_filter, kept.resolve_missing_after) == (["service!=batch"], 5)


def test_backtest_and_dry_run_respect_the_series_limit(
    db: Database, org_id: uuid.UUID, monkeypatch: Any
) -> None:
    from tocsin.settings import get_settings

    # Given three runs of three series each and a limit of two series per alert
    metric = _metric(db, org_id, RUNS[:3])
    monkeypatch.setenv("TOCSIN_MAX_SERIES_PER_ALERT", "2")
    get_settings.cache_clear()
    try:
        with db.connect() as conn:
            summary = backtest(conn, metric, ABOVE_5)
            now = dry_run(conn, metric, ABOVE_5)
            # A filter that leaves two series is within the limit
            filtered = backtest(conn, metric, ABOVE_5, series_filter=["service!=batch"])
        live = _live(db, org_id, metric)
    finally:
        # The next test reads the settings afresh, without the limit.
        monkeypatch.delenv("TOCSIN_MAX_SERIES_PER_ALERT")
        get_settings.cache_clear()
    # Then, as live evaluation does (with the same limit), the runs fire nothing
    assert summary["fired"] == 0
    assert _fired(summary) == live == Counter()
    assert now["would_fire"] is False
    assert "more than TOCSIN_MAX_SERIES_PER_ALERT (2): none evaluated" in now["text"]
    assert filtered["fired"] == 2
