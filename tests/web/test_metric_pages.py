"""A metric's page through the ASGI app, on SQLite and PostgreSQL: its chart's data, the
edit form (the CLI's builder, merged like `metric update`), delete (asking first when
alerts or runs go with it) and the curl line of a push metric."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from web_support import alert_form, metric_form, post_form

from tocsin.db.database import Database
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org


def _metric(ui: TestClient, name: str = "Open Issues", **fields: str) -> str:
    resp = post_form(ui, "/ui/metrics/new", metric_form(name, **fields))
    assert resp.status_code == 303, resp.text
    return str(resp.headers["location"]).rsplit("/", 1)[1]


def _errors(html: str) -> dict[str, str]:
    found = re.findall(r'<li data-field="([^"]+)"><b>[^<]*</b>: ([^<]*)</li>', html)
    return {field: unescape(message) for field, message in found}


def _edit_form(**fields: str) -> dict[str, str]:
    return {"name": "Queue depth", "description": "", "every": "30s", "cron": ""} | fields


def _stored(db: Database, metric_id: str) -> Metric:
    with db.connect() as conn:
        org_id = get_or_create_org(conn, "default")
        return MetricStore(conn, org_id).get(metric_id)


def test_the_metric_page_charts_its_recent_values(ui: TestClient) -> None:
    metric_id = _metric(ui)
    for value in ("4", "6", "3"):
        post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": value})
    page = ui.get(f"/ui/metrics/{metric_id}").text
    assert f'data-src="/ui/metrics/{metric_id}/chart.json?range=24h"' in page
    assert "/ui/static/chart.js" in page
    data = ui.get(f"/ui/metrics/{metric_id}/chart.json").json()
    assert data["value"] == [4, 6, 3]
    assert data["t"] == sorted(data["t"]) and len(data["t"]) == 3
    assert data["counts"] == {"fired": 0, "suppressed": 0, "resolved": 0}
    bad = ui.get(f"/ui/metrics/{metric_id}/chart.json?range=1y")
    assert bad.status_code == 422
    assert ui.get("/ui/metrics/no-such-metric/chart.json").status_code == 404


def test_a_push_metric_shows_the_curl_line_that_records_a_value(ui: TestClient) -> None:
    metric_id = _metric(ui)
    page = unescape(ui.get(f"/ui/metrics/{metric_id}").text)
    assert (
        f"curl -X POST http://127.0.0.1:8000/api/v1/metrics/{metric_id}/values "
        '-H "Authorization: Bearer $TOCSIN_API_KEY" '
        "-H 'Content-Type: application/json' -d '{\"value\": 6}'"
    ) in page
    assert 'data-copy="push-command"' in page
    scheduled = _metric(ui, "Queue depth", source="demo", every="30s")
    assert "curl -X POST" not in ui.get(f"/ui/metrics/{scheduled}").text


def test_edit_changes_a_metric_through_the_same_builder(ui: TestClient, db: Database) -> None:
    metric_id = _metric(ui, "Queue depth", source="demo", every="30s")
    form = ui.get(f"/ui/metrics/{metric_id}/edit")
    assert form.status_code == 200
    assert 'value="Queue depth"' in form.text and 'value="30s"' in form.text
    assert 'name="enabled" checked' in form.text

    saved = post_form(
        ui,
        f"/ui/metrics/{metric_id}/edit",
        _edit_form(name="Queue length", every="1m", description="jobs waiting"),
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/ui/metrics/{metric_id}"
    metric = _stored(db, metric_id)
    assert metric.name == "Queue length" and metric.description == "jobs waiting"
    assert metric.schedule is not None and metric.schedule.every_seconds == 60
    assert not metric.enabled  # the box was left unticked
    assert "Saved." in ui.get(f"/ui/metrics/{metric_id}").text

    # The builder's own mistakes, under the form's field names; nothing changes.
    both = post_form(
        ui, f"/ui/metrics/{metric_id}/edit", _edit_form(every="5m", cron="*/5 * * * *")
    )
    assert both.status_code == 422
    assert _errors(both.text) == {"every": "give either --every or --cron, not both"}
    assert 'data-field="every"' in both.text and 'value="*/5 * * * *"' in both.text
    never = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit_form(every="", cron=""))
    assert never.status_code == 422 and "every" in _errors(never.text)
    cron = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit_form(every="", cron="nope"))
    assert cron.status_code == 422 and "cron" in _errors(cron.text)
    _metric(ui, "Signups")
    taken = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit_form(name="Signups"))
    assert _errors(taken.text) == {"name": "a metric with this name already exists"}
    assert _stored(db, metric_id).name == "Queue length"

    cron_ok = post_form(
        ui,
        f"/ui/metrics/{metric_id}/edit",
        _edit_form(every="", cron="0 * * * *", timezone="Europe/Paris", enabled="on"),
    )
    assert cron_ok.status_code == 303
    metric = _stored(db, metric_id)
    assert metric.schedule is not None and metric.enabled
    assert (metric.schedule.cron, metric.schedule.timezone) == ("0 * * * *", "Europe/Paris")


def test_edit_keeps_what_the_form_does_not_show(ui: TestClient, db: Database) -> None:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Stars",
                "source": {
                    "type": "http",
                    "url": "http://127.0.0.1:9/repo",
                    "method": "GET",
                    "headers": {"X-Token": "s3cret"},
                },
                "selector": {"json_path": "$.stars"},
                "schedule": {"every_seconds": 300},
            }
        )
    form = ui.get(f"/ui/metrics/{metric.id}/edit").text
    assert 'value="http://127.0.0.1:9/repo"' in form and 'value="$.stars"' in form
    assert 'name="sql"' not in form  # an http metric's form asks for what it uses
    saved = post_form(
        ui,
        f"/ui/metrics/{metric.id}/edit",
        {"name": "Stars", "url": "http://127.0.0.1:9/other", "json_path": "$.count", "every": "5m"},
    )
    assert saved.status_code == 303, saved.text
    with db.connect() as conn:
        after = MetricStore(conn, org_id).get(metric.id)
    assert after.source["url"] == "http://127.0.0.1:9/other"
    assert after.source["method"] == "GET" and "X-Token" in after.source["headers"]
    assert after.selector is not None and after.selector.json_path == "$.count"
    emptied = post_form(ui, f"/ui/metrics/{metric.id}/edit", {"name": "Stars", "url": ""})
    assert emptied.status_code == 422 and "url" in _errors(emptied.text)


def test_delete_asks_first_when_alerts_or_runs_go_with_it(ui: TestClient, db: Database) -> None:
    lonely = _metric(ui, "Unused")
    page = ui.get(f"/ui/metrics/{lonely}").text
    delete_form = page[page.index('id="delete-form"') - 100 :].split("</form>")[0]
    assert "data-confirm" not in delete_form and 'name="confirm"' not in delete_form
    gone = post_form(ui, f"/ui/metrics/{lonely}/delete", {})
    assert gone.status_code == 303 and gone.headers["location"] == "/ui/metrics"
    assert "Deleted metric &#39;Unused&#39;." in ui.get("/ui/metrics").text

    metric_id = _metric(ui)
    post_form(ui, "/ui/alerts/new", alert_form(metric_id))
    post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": "3"})
    page = unescape(ui.get(f"/ui/metrics/{metric_id}").text)
    assert "data-confirm=\"Delete metric 'Open Issues' with its 1 alert(s) and 1 run(s)?\"" in page

    # Without the confirmation (a page opened before the alert was made), it asks.
    asked = post_form(ui, f"/ui/metrics/{metric_id}/delete", {})
    assert asked.status_code == 200
    assert "with its 1 alert(s) and 1 run(s)?" in unescape(asked.text)
    assert 'name="confirm" value="yes"' in asked.text
    assert ui.get(f"/ui/metrics/{metric_id}").status_code == 200  # still there

    done = post_form(ui, f"/ui/metrics/{metric_id}/delete", {"confirm": "yes"})
    assert done.status_code == 303
    assert "with its 1 alert(s) and 1 run(s)." in unescape(ui.get("/ui/metrics").text)
    assert ui.get(f"/ui/metrics/{metric_id}").status_code == 404
    assert "No alerts" in ui.get("/ui/").text
