"""The dead-man switch (``expect_every``), pass by pass, on SQLite and PostgreSQL: the
task function both runtimes run (``execution/silence.py`` through ``tasks``), against a
metric whose silence is made due by moving ``missing_due_at`` into the past."""

from __future__ import annotations

import asyncio
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.errors import InvalidInput
from tocsin.execution import silence
from tocsin.execution.abandoned import fail_abandoned_slot
from tocsin.execution.runs import run_now
from tocsin.execution.scheduler import evaluate_execution, unevaluated_executions
from tocsin.execution.silence import record_missing_runs
from tocsin.execution.tasks import record_silences
from tocsin.http import HttpClient
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

SETTINGS = Settings()


def _metric(db: Database, org_id: uuid.UUID, period: int | None = 60, **extra: Any) -> Metric:
    with db.begin() as conn:
        return MetricStore(conn, org_id).create(
            {"name": f"m {uuid.uuid4().hex[:6]}", "source": {"type": "push"}}
            | {"expect_every_seconds": period}
            | extra
        )


def _alert(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, **extra: Any) -> uuid.UUID:
    definition = {
        "metric_id": metric_id,
        "name": f"a {uuid.uuid4().hex[:6]}",
        "comparison_op": "gt",
        "threshold_value": 5,
        "action_config": {"type": "log"},
    }
    with db.begin() as conn:
        return AlertStore(conn, org_id).create_alert(definition | extra).id


def _make_due(db: Database, metric_id: uuid.UUID, ago: timedelta) -> datetime:
    """The silence came due ``ago``: what ``missing_due_at`` then holds."""
    due = utcnow() - ago
    with db.begin() as conn:
        conn.execute(update(metrics).where(metrics.c.id == metric_id).values(missing_due_at=due))
    return due


def _due_at(db: Database, metric_id: uuid.UUID) -> datetime | None:
    with db.connect() as conn:
        found: datetime | None = conn.execute(
            select(metrics.c.missing_due_at).where(metrics.c.id == metric_id)
        ).scalar_one()
        return found


def _runs(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID) -> list[Execution]:
    with db.connect() as conn:
        return list(reversed(MetricStore(conn, org_id).executions(metric_id)))


def _state(db: Database, org_id: uuid.UUID, alert_id: uuid.UUID) -> tuple[str, str]:
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        return store.get_alert(alert_id).state, store.history(alert_id, limit=1)[0].reason


def _push(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, value: Any) -> Execution:
    async def go() -> Execution:
        async with HttpClient(SETTINGS) as http:
            report = await run_now(
                db, org_id, metric_id, settings=SETTINGS, http=http, value=value, has_value=True
            )
        return report.execution

    return asyncio.run(go())


def _pushed_before(
    db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, value: Any, ago: timedelta
) -> None:
    """A value that arrived ``ago``, recorded and evaluated as a push is."""
    with db.begin() as conn:
        execution = MetricStore(conn, org_id).record_value(metric_id, value, at=utcnow() - ago)
    asyncio.run(evaluate_execution(db, execution, settings=SETTINGS))


def test_a_silent_metric_gets_a_missing_run_evaluated_as_no_data(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 600)
    alert = _alert(db, org_id, metric.id)
    due = _make_due(db, metric.id, timedelta(seconds=1))

    outcomes = asyncio.run(record_silences(db, SETTINGS))

    [run] = _runs(db, org_id, metric.id)
    assert [o.execution.id for o in outcomes] == [run.id]
    assert (run.status, run.trigger) == ("missing", "schedule")
    assert run.error == "no value received for 10m"
    assert run.scheduled_for == due and run.completed_at is not None and run.value is None
    assert run.evaluated_at is not None
    state, reason = _state(db, org_id, alert)
    assert state == "no_data" and "no value received for 10m" in reason
    assert _due_at(db, metric.id) == due + timedelta(seconds=600)


def test_a_period_is_recorded_once_however_often_the_pass_runs(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    due = _make_due(db, metric.id, timedelta(seconds=30))
    recorded = [len(record_missing_runs(db, SETTINGS)) for _ in range(3)]
    assert recorded == [1, 0, 0]
    assert [r.status for r in _runs(db, org_id, metric.id)] == ["missing"]
    assert _due_at(db, metric.id) == due + timedelta(seconds=60)


def test_after_downtime_one_missing_run_is_recorded_not_one_per_period(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    _make_due(db, metric.id, timedelta(minutes=10))
    before = utcnow()
    assert len(record_missing_runs(db, SETTINGS)) == 1
    assert len(record_missing_runs(db, SETTINGS)) == 0
    following = _due_at(db, metric.id)
    assert following is not None and following >= before + timedelta(seconds=60)


def test_a_value_within_the_period_defers_the_silence_and_records_nothing(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    pushed = _push(db, org_id, metric.id, 3)
    _make_due(db, metric.id, timedelta(seconds=1))
    assert record_missing_runs(db, SETTINGS) == []
    assert [r.status for r in _runs(db, org_id, metric.id)] == ["completed"]
    assert pushed.completed_at is not None
    assert _due_at(db, metric.id) == pushed.completed_at + timedelta(seconds=66)


def test_a_value_whose_own_wait_is_over_too_is_recorded_in_the_same_pass(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given a value 70 s ago (its period and grace, 66 s, over) and a pass that only now
    # looks at a silence that came due before that value
    metric = _metric(db, org_id, 60)
    pushed = _push(db, org_id, metric.id, 3)
    earlier = utcnow() - timedelta(seconds=70)
    with db.begin() as conn:
        conn.execute(
            update(metric_executions)
            .where(metric_executions.c.id == pushed.id)
            .values(completed_at=earlier)
        )
    _make_due(db, metric.id, timedelta(seconds=100))
    # When one pass runs, then the silence since that value is recorded now, not a pass
    # later, for the moment it came due
    (missing,) = record_missing_runs(db, SETTINGS)
    assert missing.execution.scheduled_for == earlier + timedelta(seconds=66)
    assert [r.status for r in _runs(db, org_id, metric.id)] == ["completed", "missing"]


def test_a_failed_run_is_heard_from_and_stays_an_error_of_its_own(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        run = store.start_execution(metric.id, trigger="schedule")
        store.finish_execution(run, status="failed", error="connection refused")
    _make_due(db, metric.id, timedelta(seconds=1))
    assert record_missing_runs(db, SETTINGS) == []
    assert [r.status for r in _runs(db, org_id, metric.id)] == ["failed"]


def test_a_late_value_after_a_missing_run_is_recorded_and_evaluated_as_usual(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    alert = _alert(db, org_id, metric.id)
    _make_due(db, metric.id, timedelta(seconds=1))
    record_missing_runs(db, SETTINGS)
    assert _state(db, org_id, alert)[0] == "no_data"

    late = _push(db, org_id, metric.id, 7)

    assert late.status == "completed" and late.value == 7
    state, reason = _state(db, org_id, alert)
    assert state == "triggered" and reason.startswith("7 > 5")
    # When the next period comes due, the late value counts: no second missing run.
    _make_due(db, metric.id, timedelta(seconds=1))
    assert record_missing_runs(db, SETTINGS) == []
    assert [r.status for r in _runs(db, org_id, metric.id)] == ["missing", "completed"]
    assert late.completed_at is not None
    assert _due_at(db, metric.id) == late.completed_at + timedelta(seconds=66)


def test_every_series_of_a_series_metric_is_no_data_in_a_missing_run(
    db: Database, org_id: uuid.UUID
) -> None:
    selector = {"column": "errors", "series_by": ["service"]}
    metric = _metric(db, org_id, 60, selector=selector)
    alert = _alert(db, org_id, metric.id)
    table = {"columns": ["service", "errors"], "rows": [["api", 7], ["web", 2]]}
    _pushed_before(db, org_id, metric.id, table, timedelta(minutes=3))
    _make_due(db, metric.id, timedelta(seconds=1))
    record_missing_runs(db, SETTINGS)
    with db.connect() as conn:
        found = AlertStore(conn, org_id).series(alert)
    assert sorted(s.series_key for s in found) == ['{"service":"api"}', '{"service":"web"}']
    assert {s.state for s in found} == {"no_data"}


def test_a_relative_change_compares_with_the_last_value_not_a_missing_run(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    alert = _alert(
        db, org_id, metric.id, condition_type="relative_change", change_mode="percent",
        threshold_value=20,
    )  # fmt: skip
    _pushed_before(db, org_id, metric.id, 10, timedelta(minutes=3))
    _make_due(db, metric.id, timedelta(seconds=1))
    assert len(record_missing_runs(db, SETTINGS)) == 1
    _push(db, org_id, metric.id, 13)
    with db.connect() as conn:
        latest = AlertStore(conn, org_id).history(alert, limit=1)[0]
    assert latest.baseline_value == 10 and latest.triggered and latest.state_to == "triggered"


def test_the_switch_follows_the_metric_definition(db: Database, org_id: uuid.UUID) -> None:
    metric = _metric(db, org_id, None)
    assert metric.expect_every_seconds is None and _due_at(db, metric.id) is None

    def change(**changes: Any) -> Metric:
        with db.begin() as conn:
            return MetricStore(conn, org_id).update(metric.id, changes)

    before = utcnow()
    assert change(expect_every_seconds=100).expect_every_seconds == 100
    due = _due_at(db, metric.id)
    assert due is not None and before + timedelta(seconds=110) <= due <= utcnow() + timedelta(
        seconds=110
    )
    # Other changes leave the moment alone; a paused metric is not watched.
    change(description="queue depth")
    assert _due_at(db, metric.id) == due
    change(enabled=False)
    assert _due_at(db, metric.id) is None
    change(enabled=True)
    assert (_due_at(db, metric.id) or due) > due
    with pytest.raises(InvalidInput) as refused:
        change(expect_every_seconds=0)
    assert refused.value.field == "expect_every_seconds"
    assert change(expect_every_seconds=None).expect_every_seconds is None
    assert _due_at(db, metric.id) is None


def test_concurrent_passes_never_record_a_period_twice(db: Database, org_id: uuid.UUID) -> None:
    """Four passes at once (as two workers' overlapping jobs run them) over the same due
    metrics: each period is claimed by exactly one of them."""
    ids = [_metric(db, org_id, 60).id for _ in range(25)]
    for metric_id in ids:
        _make_due(db, metric_id, timedelta(seconds=1))
    start = threading.Barrier(4)
    recorded: list[int] = []

    def one_pass() -> None:
        start.wait()
        recorded.append(len(record_missing_runs(db, SETTINGS)))

    threads = [threading.Thread(target=one_pass) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(recorded) == len(ids)
    for metric_id in ids:
        assert [r.status for r in _runs(db, org_id, metric_id)] == ["missing"]


def test_a_missing_run_whose_evaluation_failed_is_evaluated_by_the_sweep(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    metric = _metric(db, org_id, 60)
    alert = _alert(db, org_id, metric.id)
    _make_due(db, metric.id, timedelta(seconds=1))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the evaluation breaks")

    monkeypatch.setattr(silence, "evaluate_alerts", broken)
    [found] = record_missing_runs(db, SETTINGS)
    monkeypatch.undo()
    assert found.evaluation is None
    [owed] = unevaluated_executions(db)
    assert owed.id == found.execution.id and owed.status == "missing"
    asyncio.run(evaluate_execution(db, owed, settings=SETTINGS))
    assert _state(db, org_id, alert)[0] == "no_data"
    assert unevaluated_executions(db) == []


def test_a_retried_run_slot_is_never_taken_for_a_missing_run(
    db: Database, org_id: uuid.UUID
) -> None:
    metric = _metric(db, org_id, 60)
    due = _make_due(db, metric.id, timedelta(seconds=1))
    record_missing_runs(db, SETTINGS)
    # A retried run of a slot at that same moment finds no run of its own to finish.
    assert fail_abandoned_slot(db, metric.id, due) is None
