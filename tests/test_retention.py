"""Retention (issue 16 item 7): quiet evaluations go after TOCSIN_HISTORY_RETENTION,
transitions and what was sent after TOCSIN_TRANSITION_RETENTION, executions after
TOCSIN_EXECUTION_RETENTION except what a lookback still reads; in short batches, on
SQLite and PostgreSQL. Given / when / then."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.retention import Retention, prune
from tocsin.db.schema import (
    alert_history,
    alert_series,
    alerts,
    metric_executions,
    notification_deliveries,
)
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.runs import RunReport, run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings, SettingsError, load_settings

NOW = datetime.now(UTC)
DAY = timedelta(days=1)
DEFAULTS = Retention(history=30 * DAY, transitions=400 * DAY, executions=30 * DAY)


def _setup(db: Database, org_id: uuid.UUID, **alert: Any) -> tuple[uuid.UUID, uuid.UUID]:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "Queue", "source": {"type": "push"}})
        created = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Queue too long",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
            | alert
        )
    return metric.id, created.id


def _push(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, *values: int) -> list[RunReport]:
    settings = Settings(database_url=db.url)

    async def go() -> list[RunReport]:
        async with HttpClient(settings) as http:
            return [
                await run_now(
                    db, org_id, metric_id, settings=settings, http=http, value=v, has_value=True
                )
                for v in values
            ]

    return asyncio.run(go())


def _age_everything(db: Database, by: timedelta) -> None:
    """As if every row so far had been written ``by`` earlier."""
    with db.begin() as conn:
        for table, columns in (
            (alert_history, ("evaluated_at",)),
            (notification_deliveries, ("created_at", "next_attempt_at")),
            (metric_executions, ("started_at", "completed_at", "evaluated_at")),
            (alerts, ("last_triggered_at", "last_evaluated_at")),
            (alert_series, ("last_triggered_at", "last_evaluated_at", "last_seen_at")),
        ):
            for row in conn.execute(select(table.c.id, *(table.c[c] for c in columns))).all():
                moved = {c: getattr(row, c) - by for c in columns if getattr(row, c) is not None}
                conn.execute(update(table).where(table.c.id == row.id).values(**moved))


def _history(db: Database) -> list[tuple[str, str, bool]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(ah.state_from, ah.state_to, ah.notified).order_by(ah.evaluated_at)
        ).all()
    return [(r.state_from, r.state_to, r.notified) for r in rows]


def _count(db: Database, table: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


ah = alert_history.c


def test_quiet_evaluations_go_after_history_retention_and_transitions_stay(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given a month and more ago: quiet ok runs, a firing, a quiet triggered run, a resolve
    metric_id, _ = _setup(db, org_id)
    _push(db, org_id, metric_id, 1, 2, 7, 8, 1, 2)
    _age_everything(db, 31 * DAY)
    # and today two more quiet runs
    _push(db, org_id, metric_id, 3, 4)

    # When retention prunes with the defaults
    pruned = prune(db, DEFAULTS, now=NOW)

    # Then the old evaluations that changed nothing and sent nothing are gone, the
    # firing and the resolve (state changes, both sent) stay, and today's runs stay
    assert _history(db) == [
        ("ok", "triggered", True),
        ("triggered", "ok", True),
        ("ok", "ok", False),
        ("ok", "ok", False),
    ]
    assert (pruned.quiet, pruned.transitions, pruned.finished) == (4, 0, True)
    # and both deliveries stay with their rows
    assert _count(db, notification_deliveries) == 2


def test_a_quiet_row_that_tried_to_send_is_kept_as_long_as_a_transition(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given an old evaluation that changed nothing but has a delivery (a send that died)
    metric_id, alert_id = _setup(db, org_id)
    _push(db, org_id, metric_id, 1, 1)
    with db.begin() as conn:
        first = conn.execute(select(ah.id).order_by(ah.evaluated_at).limit(1)).scalar_one()
        conn.execute(
            insert(notification_deliveries).values(
                id=uuid.uuid4(),
                org_id=org_id,
                alert_id=alert_id,
                history_id=first,
                kind="trigger",
                action={"type": "log"},
                payload={},
                status="dead",
                attempts=8,
                next_attempt_at=NOW,
                idempotency_key=f"{first}-0",
                created_at=NOW,
            )
        )
    _age_everything(db, 60 * DAY)

    # When retention prunes
    prune(db, DEFAULTS, now=NOW)

    # Then that row stays (someone may still ask why it did not reach them); the other goes
    with db.connect() as conn:
        assert list(conn.execute(select(ah.id)).scalars()) == [first]


def test_transitions_and_settled_deliveries_go_after_transition_retention(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given a firing and a resolve well over a year ago, and a pending delivery of today
    metric_id, alert_id = _setup(db, org_id)
    _push(db, org_id, metric_id, 7, 1)
    _age_everything(db, 401 * DAY)
    _push(db, org_id, metric_id, 9)
    with db.begin() as conn:
        conn.execute(update(notification_deliveries).values(status="pending"))
        conn.execute(
            update(notification_deliveries)
            .where(notification_deliveries.c.created_at < NOW - 400 * DAY)
            .values(status="sent")
        )

    # When retention prunes
    pruned = prune(db, DEFAULTS, now=NOW)

    # Then the old transitions and their sent deliveries are gone; today's firing stays
    assert [(a, b) for a, b, _ in _history(db)] == [("ok", "triggered")]
    assert (pruned.transitions, pruned.deliveries) == (2, 2)
    with db.connect() as conn:
        left = conn.execute(select(notification_deliveries.c.status)).scalars().all()
    assert left == ["pending"]


def test_executions_go_but_what_a_lookback_reads_stays(db: Database, org_id: uuid.UUID) -> None:
    # Given a relative-change alert that compares with the run 3 runs back
    metric_id, _ = _setup(
        db,
        org_id,
        condition_type="relative_change",
        change_mode="percent",
        comparison_op="gt",
        threshold_value=50,
        lookback=3,
    )
    _push(db, org_id, metric_id, 10, 10, 10, 10, 10, 10)
    _age_everything(db, 90 * DAY)

    # When retention prunes executions past 30 days
    pruned = prune(db, DEFAULTS, now=NOW)

    # Then the newest runs the lookback needs (and one spare) stay, the rest go
    assert pruned.executions == 2
    assert _count(db, metric_executions) == 4
    # and the next run still compares with the value 3 runs back: 16 is +60%, it fires
    (report,) = _push(db, org_id, metric_id, 16)
    (evaluation,) = report.evaluations
    assert evaluation.baseline_value == Decimal(10)
    assert (evaluation.state_from, evaluation.state_to) == ("ok", "triggered")


def test_pruning_goes_in_batches_and_a_spent_budget_leaves_the_rest_for_the_next_pass(
    db: Database, org_id: uuid.UUID
) -> None:
    # Given eleven old quiet evaluations
    metric_id, _ = _setup(db, org_id)
    _push(db, org_id, metric_id, *([1] * 11))
    _age_everything(db, 31 * DAY)

    # When a pass has no time at all
    spent = prune(db, DEFAULTS, now=NOW, budget_seconds=0)
    # Then it removes nothing and says it did not finish
    assert (spent.rows, spent.finished) == (0, False)
    assert _count(db, alert_history) == 11

    # When a pass deletes three rows per transaction
    done = prune(db, DEFAULTS, now=NOW, batch=3)
    # Then it still removes all of them, and says it finished
    assert (done.quiet, done.finished) == (11, True)
    assert _count(db, alert_history) == 0


def test_retention_settings_are_durations_named_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_HISTORY_RETENTION", "7d")
    monkeypatch.setenv("TOCSIN_TRANSITION_RETENTION", "2w")
    settings = load_settings()
    assert Retention.of(settings) == Retention(7 * DAY, 14 * DAY, 30 * DAY)

    monkeypatch.setenv("TOCSIN_EXECUTION_RETENTION", "30")
    with pytest.raises(SettingsError, match="TOCSIN_EXECUTION_RETENTION: .*needs a unit"):
        load_settings()
    monkeypatch.setenv("TOCSIN_EXECUTION_RETENTION", "10m")
    with pytest.raises(SettingsError, match="TOCSIN_EXECUTION_RETENTION: .*at least 1h"):
        load_settings()


def test_the_embedded_runtime_prunes_as_it_starts(db: Database, org_id: uuid.UUID) -> None:
    # Given quiet evaluations two days old, and a day's history retention
    metric_id, _ = _setup(db, org_id)
    _push(db, org_id, metric_id, 1, 1, 1)
    _age_everything(db, 2 * DAY)
    settings = Settings(database_url=db.url, history_retention=timedelta(days=1))

    # When the embedded runtime runs (its first prune comes as it starts)
    async def until_pruned() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(EmbeddedRuntime(db, settings, tick_seconds=0.1).run(stop))
        for _ in range(100):
            await asyncio.sleep(0.1)
            if _count(db, alert_history) == 0:
                break
        stop.set()
        await task
        return _count(db, alert_history)

    # Then they are gone without anyone asking
    assert asyncio.run(until_pruned()) == 0
