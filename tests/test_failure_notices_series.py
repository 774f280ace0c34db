"""Failure notices of a series alert, on SQLite and PostgreSQL (issue 17): a source that
breaks as a whole is told once for the alert, not once per series; a series whose own
value breaks is told on its own. Given / when / then."""

from __future__ import annotations

import sqlite3
import uuid

from tests.test_series_alerts import ErrorsDb, _run, _setup, _states, source
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database

__all__ = ["source"]  # the fixture, used by name


def test_a_broken_query_is_one_notice_for_all_series_and_one_recovery(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    # Given three services evaluated
    metric_id, alert_id = _setup(db, org_id, source)
    source.holds(api=1, web=2, batch=3)
    assert _run(db, org_id, metric_id).deliveries == []

    # When the table goes away
    with sqlite3.connect(source.path) as conn:
        conn.execute("ALTER TABLE errors RENAME TO errors_gone")
    broken = _run(db, org_id, metric_id)

    # Then every series is in error, told in one notice for the alert
    assert _states(db, org_id, alert_id) == {"api": "error", "web": "error", "batch": "error"}
    (notice,) = broken.deliveries
    assert notice.kind == "error" and notice.labels is None
    assert "no such table: errors" in notice.payload["reason"]
    assert notice.payload["reason"].endswith("(3 series)")
    assert notice.payload["labels"] == {}

    # And a second failed run tells nothing new
    assert _run(db, org_id, metric_id).deliveries == []

    # When it is back, one recovered notice says so
    with sqlite3.connect(source.path) as conn:
        conn.execute("ALTER TABLE errors_gone RENAME TO errors")
    back = _run(db, org_id, metric_id)
    (recovered,) = back.deliveries
    assert recovered.kind == "recovered"
    assert recovered.payload["reason"].startswith("readable again after error: ")
    assert _states(db, org_id, alert_id) == {"api": "ok", "web": "ok", "batch": "ok"}
    with db.connect() as conn:
        series = AlertStore(conn, org_id).series(alert_id)
    assert {s.state for s in series} == {"ok"}


def test_one_series_unreadable_is_told_on_its_own(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    # Given a column of text for one service
    metric_id, alert_id = _setup(db, org_id, source)
    with sqlite3.connect(source.path) as conn:
        conn.executemany(
            "INSERT INTO errors VALUES (?, ?)", [("api", 1), ("web", "lots"), ("batch", 2)]
        )
    # When it runs
    report = _run(db, org_id, metric_id)
    # Then only that series is in error, with a notice naming it
    assert _states(db, org_id, alert_id) == {"api": "ok", "web": "error", "batch": "ok"}
    (notice,) = report.deliveries
    assert notice.kind == "error" and notice.labels == {"service": "web"}
    assert '"lots"' in notice.payload["reason"]
