"""The alert page's charts of an alert with series, on SQLite and PostgreSQL: with no
series chosen the top 10 by latest value as lines (chart.json?series=top), a chosen
series with its events, and neither reaching another org's series."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from html import unescape
from typing import Any, NamedTuple

from fastapi.testclient import TestClient
from sqlalchemy import event

from tocsin.alerts.decision import AlertRule
from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.web.chart import ChartData, Line, align_lines, mark_evaluations
from tocsin.web.series import by_value

# Latest values of twelve services: ranked db, gate, auth, ingest, feed, batch and
# billing (a tie, broken by labels), jobs, api, hub; cache and edge fall outside.
LATEST = {
    "api": "3", "auth": "12", "batch": "7", "billing": "7", "cache": "1", "db": "20",
    "edge": "0.5", "feed": "9", "gate": "15", "hub": "2", "ingest": "11", "jobs": "4",
}  # fmt: skip
TOP = ["db", "gate", "auth", "ingest", "feed", "batch", "billing", "jobs", "api", "hub"]


class Seeded(NamedTuple):
    org_id: uuid.UUID
    metric_id: str
    alert_id: str
    key: str


def _seed(db: Database, org: str = "default", **alert: Any) -> Seeded:
    """A push metric with series by service, an alert > 5 on it, and an editor's key."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Errors by service",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
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
        _, key = create_api_key(conn, org_id, f"{org} pusher", "editor")
    return Seeded(org_id, str(metric.id), str(created.id), key)


def _push(client: TestClient, seeded: Seeded, values: dict[str, str]) -> None:
    rows = [[service, value] for service, value in values.items()]
    resp = client.post(
        f"/api/v1/metrics/{seeded.metric_id}/values",
        headers={"Authorization": f"Bearer {seeded.key}"},
        json={"value": {"columns": ["service", "errors"], "rows": rows}},
    )
    assert resp.status_code == 200, resp.text


def _twelve(ui: TestClient, db: Database) -> Seeded:
    """Twelve services over two runs; the first run ranks them the other way round, so
    only the latest value puts the top ten first."""
    seeded = _seed(db)
    _push(ui, seeded, {s: str(30 - Decimal(v)) for s, v in LATEST.items()})
    _push(ui, seeded, LATEST)
    return seeded


def _name(service: str) -> str:
    return f'{{service="{service}"}}'


@contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_top_chart_draws_the_ten_highest_latest_values_as_labelled_lines(
    ui: TestClient, db: Database
) -> None:
    seeded = _twelve(ui, db)
    with _statements(db) as seen:
        resp = ui.get(f"/ui/alerts/{seeded.alert_id}/chart.json?range=all&series=top")
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert [line["name"] for line in data["lines"]] == [_name(s) for s in TOP]
    assert [line["labels"] for line in data["lines"]] == [{"service": s} for s in TOP]
    assert [line["last_value"] for line in data["lines"]] == [float(LATEST[s]) for s in TOP]
    # One point per run on one time axis: the first run's values, then the latest.
    assert len(data["t"]) == 2 and data["t"] == sorted(data["t"])
    for line, service in zip(data["lines"], TOP, strict=True):
        assert line["value"] == [30 - float(LATEST[service]), float(LATEST[service])]
    assert data["limit"] == [5, 5]
    assert data["series_count"] == 12 and data["truncated"] is False
    # Every series' points in one statement, not one per series.
    assert sum("alert_history" in s for s in seen) == 1


def test_top_chart_is_the_default_view_and_a_chosen_series_replaces_it(
    ui: TestClient, db: Database
) -> None:
    seeded = _twelve(ui, db)
    page = ui.get(f"/ui/alerts/{seeded.alert_id}").text
    assert 'id="chart-top">the top 10 of 12 series by latest value<' in page
    chart = page[page.index('id="chart"') :]
    assert "chart.json?range=24h&amp;series=top" in chart.split(">")[0]
    assert (
        'id="series-top" href="?range=24h&amp;sort=state&amp;label=&amp;series=top" class="here"'
        in page
    )

    with db.connect() as conn:
        series = AlertStore(conn, seeded.org_id).series(uuid.UUID(seeded.alert_id))
    auth = next(s for s in series if s.labels == {"service": "auth"})
    chosen = ui.get(f"/ui/alerts/{seeded.alert_id}?series={auth.id}").text
    assert unescape(chosen.split('id="chart-series">')[1].split("<")[0]) == _name("auth")
    assert f"chart.json?range=24h&amp;series={auth.id}" in chosen
    assert 'id="series-top" href="?range=24h&amp;sort=state&amp;label=&amp;series=top">' in chosen
    one = ui.get(f"/ui/alerts/{seeded.alert_id}/chart.json?range=all&series={auth.id}").json()
    assert one["value"] == [18, 12] and one["fired"] == [18, None]
    # The explicit choice is the default view; a nonsense choice is refused.
    top = ui.get(f"/ui/alerts/{seeded.alert_id}?series=top&range=7d").text
    assert 'id="chart-top"' in top and "chart.json?range=7d&amp;series=top" in top
    assert ui.get(f"/ui/alerts/{seeded.alert_id}/chart.json?series=most").status_code == 422


def test_top_chart_bounds_points_per_series(ui: TestClient, db: Database, monkeypatch: Any) -> None:
    seeded = _seed(db)
    for i in range(3):
        _push(ui, seeded, {"api": str(i), "web": str(10 + i)})
    monkeypatch.setattr("tocsin.web.series.LINE_POINTS", 2)
    data = ui.get(f"/ui/alerts/{seeded.alert_id}/chart.json?range=all&series=top").json()
    assert data["truncated"] is True
    assert [(line["name"], line["value"]) for line in data["lines"]] == [
        (_name("web"), [11, 12]),
        (_name("api"), [1, 2]),
    ]


def test_top_chart_of_a_relative_change_has_no_shared_limit(ui: TestClient, db: Database) -> None:
    seeded = _seed(db, condition_type="relative_change", change_mode="percent")
    _push(ui, seeded, {"api": "10", "web": "4"})
    _push(ui, seeded, {"api": "20", "web": "5"})
    data = ui.get(f"/ui/alerts/{seeded.alert_id}/chart.json?range=all&series=top").json()
    assert [line["value"] for line in data["lines"]] == [[10, 20], [4, 5]]
    assert data["limit"] == [None, None]  # each series' own chart draws its limit


def test_an_alert_of_one_series_charts_its_metric_as_before(ui: TestClient, db: Database) -> None:
    seeded = _seed(db)
    _push(ui, seeded, {"api": "6"})
    page = ui.get(f"/ui/alerts/{seeded.alert_id}").text
    assert 'id="series"' not in page and 'id="chart-top"' not in page
    assert f'/ui/alerts/{seeded.alert_id}/chart.json?range=24h"' in page


def test_another_orgs_series_is_nothing_in_a_chart(ui: TestClient, db: Database) -> None:
    # Given my alert with series, and another org's with its own series
    mine = _seed(db)
    _push(ui, mine, {"api": "6", "web": "1"})
    theirs = _seed(db, "acme")
    # Values no UUID in a 404 page is likely to contain ("99" was: the page names the id)
    _push(ui, theirs, {"acme-secret": "987654", "acme-other": "876543"})
    with db.connect() as conn:
        their_series = AlertStore(conn, theirs.org_id).series(uuid.UUID(theirs.alert_id))
    their_id = their_series[0].id

    # When I name their series on my alert's chart, or their alert at all
    named = ui.get(f"/ui/alerts/{mine.alert_id}/chart.json?range=all&series={their_id}")
    # Then nothing of theirs comes back
    assert named.status_code == 200
    assert named.json()["t"] == [] and named.json()["value"] == []
    assert "987654" not in named.text and "acme" not in named.text
    for path in (
        f"/ui/alerts/{theirs.alert_id}/chart.json?series=top",
        f"/ui/alerts/{theirs.alert_id}/chart.json?series={their_id}",
        f"/ui/alerts/{theirs.alert_id}?series=top",
        f"/ui/alerts/{theirs.alert_id}?series={their_id}",
    ):
        resp = ui.get(path)
        assert resp.status_code == 404, path
        assert "acme" not in resp.text and "987654" not in resp.text, path
    # My top lines are mine only, and my page with their series id shows my lines.
    top = ui.get(f"/ui/alerts/{mine.alert_id}/chart.json?range=all&series=top").json()
    assert [line["name"] for line in top["lines"]] == [_name("api"), _name("web")]
    page = ui.get(f"/ui/alerts/{mine.alert_id}?series={their_id}").text
    assert "acme" not in page and 'id="chart-top">all 2 series<' in page


class _Evaluation(NamedTuple):
    baseline_value: Decimal | None
    state_from: str
    state_to: str
    notified: bool
    reason: str


def test_one_function_marks_events_for_every_alert_chart() -> None:
    rule = AlertRule("relative_change", "gt", Decimal(50), "percent")
    out = ChartData(value=[10, 20, 5, 7], reason=["", "", "", "run failed: x"])
    mark_evaluations(
        out,
        rule,
        [
            _Evaluation(None, "ok", "ok", False, "no baseline yet"),
            _Evaluation(Decimal(10), "ok", "triggered", True, "20 > 15; triggered"),
            _Evaluation(Decimal(20), "triggered", "ok", True, "5 <= 30; resolved"),
            None,  # a run the alert did not evaluate keeps its own reason
        ],
    )
    assert out.limit == [None, 15, 30, None] and out.baseline == [None, 10, 20, None]
    assert out.fired == [None, 20, None, None] and out.resolved == [None, None, 5, None]
    assert out.suppressed == [None] * 4
    assert out.reason == [
        "no baseline yet",
        "20 > 15; triggered",
        "5 <= 30; resolved",
        "run failed: x",
    ]


def test_lines_share_one_time_axis_and_rank_by_value() -> None:
    a, b = Line("a", "{a}", {}, 1.0), Line("b", "{b}", {}, 2.0)
    t = align_lines([a, b], {"a": [(2.0, 5.0), (1.0, 4.0)], "b": [(3.0, 7.0)]})
    assert t == [1.0, 2.0, 3.0]
    assert a.value == [4.0, 5.0, None] and b.value == [None, None, 7.0]
    keys = [("x", Decimal(1)), ("b", Decimal(3)), ("a", Decimal(3)), ("n", None)]
    keys.append(("nan", Decimal("NaN")))
    ranked = sorted(keys, key=lambda k: by_value(k[1], k[0]))
    assert [k for k, _ in ranked] == ["a", "b", "x", "n", "nan"]
