"""Series end to end: one alert over "errors by service" from a SQL query, each service
with its own state, on SQLite and PostgreSQL (issue 16), given / when / then."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tocsin.alerts.store import AlertStore
from tocsin.credentials.store import CredentialStore
from tocsin.db.database import Database
from tocsin.db.schema import alert_series
from tocsin.execution.runs import RunReport, run_now
from tocsin.http import HttpClient
from tocsin.metrics.series import series_key
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

API, WEB, BATCH, DB = ({"service": s} for s in ("api", "web", "batch", "db"))


class ErrorsDb:
    """The tenant's own database a SQL metric reads: errors per service."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE errors (service TEXT, errors INTEGER)")

    def holds(self, **errors: int) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute("DELETE FROM errors")
            conn.executemany("INSERT INTO errors VALUES (?, ?)", list(errors.items()))


@pytest.fixture
def source(tmp_path: Path) -> ErrorsDb:
    return ErrorsDb(tmp_path / "app.db")


def _setup(
    db: Database, org_id: uuid.UUID, source: ErrorsDb, **alert: Any
) -> tuple[uuid.UUID, uuid.UUID]:
    with db.begin() as conn:
        CredentialStore(conn, org_id).save("ERRORS_DB", source.url)
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Errors by service",
                "source": {
                    "type": "sql",
                    "sql": "select service, errors from errors",
                    "dsn_credential": "ERRORS_DB",
                },
                "selector": {"column": "errors", "series_by": ["service"]},
                "schedule": {"every_seconds": 3600},
            }
        )
        created = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
            | alert
        )
    return metric.id, created.id


def _run(db: Database, org_id: uuid.UUID, metric_id: uuid.UUID) -> RunReport:
    settings = Settings(database_url=db.url)

    async def go() -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(db, org_id, metric_id, settings=settings, http=http)

    return asyncio.run(go())


def _sent(report: RunReport) -> dict[str, list[str]]:
    """Who was told what: series service -> notification kinds."""
    out: dict[str, list[str]] = {}
    for d in report.deliveries:
        assert d.labels is not None and d.payload["labels"] == d.labels
        out.setdefault(d.labels["service"], []).append(d.kind)
    return out


def _states(db: Database, org_id: uuid.UUID, alert_id: uuid.UUID) -> dict[str, str]:
    with db.connect() as conn:
        return {s.labels["service"]: s.state for s in AlertStore(conn, org_id).series(alert_id)}


def test_each_service_fires_resolves_and_cools_down_on_its_own(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    metric_id, alert_id = _setup(db, org_id, source)

    # Given api and batch above 5 and web below
    source.holds(api=7, web=2, batch=9)
    first = _run(db, org_id, metric_id)
    # Then exactly the breaching series fire, each with its own history row
    assert _sent(first) == {"api": ["trigger"], "batch": ["trigger"]}
    assert sorted(h.labels["service"] for h in first.evaluations if h.labels) == [
        "api",
        "batch",
        "web",
    ]
    assert {h.labels["service"]: h.value for h in first.evaluations if h.labels} == {
        "api": Decimal(7),
        "web": Decimal(2),
        "batch": Decimal(9),
    }
    assert len({h.series_id for h in first.evaluations}) == 3
    # and each notification names its series
    assert {d.payload["series"] for d in first.deliveries} == {
        '{service="api"}',
        '{service="batch"}',
    }
    assert _states(db, org_id, alert_id) == {"api": "triggered", "batch": "triggered", "web": "ok"}

    # When api falls back and web rises (batch stays up, inside its cooldown)
    source.holds(api=3, web=8, batch=9)
    second = _run(db, org_id, metric_id)
    # Then api alone resolves and web alone fires; batch says nothing
    assert _sent(second) == {"api": ["resolve"], "web": ["trigger"]}

    # When api rises again inside its own cooldown while a new series db fires
    source.holds(api=8, web=8, batch=9, db=11)
    third = _run(db, org_id, metric_id)
    assert _sent(third) == {"db": ["trigger"]}
    api = next(h for h in third.evaluations if h.labels == API)
    assert api.state_to == "triggered" and not api.notified
    assert "not sent: cooldown" in api.reason

    # The alert row is the summary: the worst state, and the counts per state
    with db.connect() as conn:
        store = AlertStore(conn, org_id)
        (alert,) = store.with_series([store.get_alert(alert_id)])
    assert alert.state == "triggered"
    assert alert.series_states == {"triggered": 4}
    assert alert.public()["series_count"] == 4


def test_a_missing_series_resolves_after_resolve_missing_after_runs(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    metric_id, alert_id = _setup(db, org_id, source, resolve_missing_after=2)
    source.holds(api=7, web=1)
    assert _sent(_run(db, org_id, metric_id)) == {"api": ["trigger"]}

    # When api stops being reported
    source.holds(web=1)
    gap = _run(db, org_id, metric_id)
    # Then its first absent run is no data, and nothing is sent
    assert _sent(gap) == {}
    absent = next(h for h in gap.evaluations if h.labels == API)
    assert absent.state_to == "no_data"
    assert absent.reason.startswith("series not in this run")
    # and after the second, it resolves, saying it is no longer reported
    gone = _run(db, org_id, metric_id)
    assert _sent(gone) == {"api": ["resolve"]}
    resolved = next(h for h in gone.evaluations if h.labels == API)
    assert "no longer reported" in resolved.reason
    assert _states(db, org_id, alert_id) == {"api": "ok", "web": "ok"}


def test_a_filter_watches_only_matching_series(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    metric_id, alert_id = _setup(db, org_id, source, series_filter=["service!=batch"])
    source.holds(api=7, batch=9)
    report = _run(db, org_id, metric_id)
    assert _sent(report) == {"api": ["trigger"]}
    assert _states(db, org_id, alert_id) == {"api": "triggered"}


def test_more_series_than_the_limit_put_the_alert_in_error_with_nothing_half_done(
    db: Database, org_id: uuid.UUID, source: ErrorsDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    metric_id, alert_id = _setup(db, org_id, source)
    source.holds(api=7)
    _run(db, org_id, metric_id)
    monkeypatch.setenv("TOCSIN_MAX_SERIES_PER_ALERT", "2")
    source.holds(api=7, web=8, batch=9)
    settings = Settings(database_url=db.url)
    assert settings.max_series_per_alert == 2

    async def go() -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(db, org_id, metric_id, settings=settings, http=http)

    report = asyncio.run(go())
    # Told as an error notice: the alert cannot watch what it was asked to.
    (notice,) = report.deliveries
    assert notice.kind == "error"
    assert "more than TOCSIN_MAX_SERIES_PER_ALERT (2)" in notice.payload["reason"]
    (only,) = report.evaluations
    assert only.labels == API and only.state_to == "error"
    assert "more than TOCSIN_MAX_SERIES_PER_ALERT (2)" in only.reason
    assert _states(db, org_id, alert_id) == {"api": "error"}


def test_a_pushed_values_list_and_a_labelled_value_are_series(
    db: Database, org_id: uuid.UUID
) -> None:
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create({"name": "queue", "source": {"type": "push"}})
        alert_id = (
            AlertStore(conn, org_id)
            .create_alert(
                {
                    "metric_id": metric.id,
                    "name": "deep",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
            .id
        )
    settings = Settings(database_url=db.url)

    async def push(value: Any) -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(
                db, org_id, metric.id, settings=settings, http=http, value=value, has_value=True
            )

    many = asyncio.run(push({"values": [{"labels": API, "value": 6}, {"labels": WEB, "value": 1}]}))
    assert _sent(many) == {"api": ["trigger"]}
    # A push names its series only: the others are not absent from it, just not in it
    # (each service may push its own number).
    one = asyncio.run(push({"value": 9, "labels": WEB}))
    assert _sent(one) == {"web": ["trigger"]}
    assert [h.labels for h in one.evaluations] == [WEB]
    again = asyncio.run(push({"value": 9, "labels": WEB}))
    assert [h.labels for h in again.evaluations] == [WEB]
    with db.connect() as conn:
        states = {s.labels["service"]: s.state for s in AlertStore(conn, org_id).series(alert_id)}
    assert states == {"api": "triggered", "web": "triggered"}


def test_a_series_unseen_for_seven_days_is_forgotten(
    db: Database, org_id: uuid.UUID, source: ErrorsDb
) -> None:
    metric_id, alert_id = _setup(db, org_id, source)
    source.holds(api=1, web=1)
    _run(db, org_id, metric_id)
    # Given web was last seen eight days ago, and api a minute ago
    with db.begin() as conn:
        conn.execute(
            update(alert_series)
            .where(alert_series.c.series_key == series_key(WEB))
            .values(last_seen_at=datetime.now(UTC) - timedelta(days=8))
        )
    # When a run reports only api
    source.holds(api=1)
    report = _run(db, org_id, metric_id)
    # Then web is gone (no history row either), and api stays
    assert [h.labels for h in report.evaluations] == [API]
    assert _states(db, org_id, alert_id) == {"api": "ok"}


def test_an_http_json_list_gives_one_series_per_object(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    from tests.channels.channel_support import Reply

    # Given an HTTP source answering a list of queues, read per queue from "depth"
    depths = {"api": 7, "web": 2, "batch": 9}
    sink.default = lambda _rec: Reply(
        body={"queues": [{"service": s, "depth": d, "host": "h1"} for s, d in depths.items()]}
    )
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Queue depth",
                "source": {"type": "http", "url": f"{sink.url}/queues"},
                "selector": {"json_path": "$.queues", "column": "depth", "series_by": ["service"]},
                "schedule": {"every_seconds": 3600},
            }
        )
        alert_id = (
            AlertStore(conn, org_id)
            .create_alert(
                {
                    "metric_id": metric.id,
                    "name": "Deep queue",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": {"type": "log"},
                }
            )
            .id
        )
    settings = Settings(database_url=db.url, allow_private_networks=True)

    async def run() -> RunReport:
        async with HttpClient(settings) as http:
            return await run_now(db, org_id, metric.id, settings=settings, http=http)

    # When it runs, then exactly the queues above 5 fire, each named
    first = asyncio.run(run())
    assert _sent(first) == {"api": ["trigger"], "batch": ["trigger"]}
    assert {h.labels["service"]: h.value for h in first.evaluations if h.labels} == {
        "api": Decimal(7),
        "web": Decimal(2),
        "batch": Decimal(9),
    }
    # When api drains and web fills, then api alone resolves and web alone fires
    depths.update(api=1, web=8)
    second = asyncio.run(run())
    assert _sent(second) == {"api": ["resolve"], "web": ["trigger"]}
    assert _states(db, org_id, alert_id) == {"api": "ok", "web": "triggered", "batch": "triggered"}
