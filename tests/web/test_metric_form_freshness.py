"""Freshness on the metric form, through the ASGI app on SQLite and PostgreSQL: the
"Fresh column / path" and "Max age" fields make, show, change and turn off a metric's
freshness check, and the metric's page says it ("Freshness: updated_at, max 1h")."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from web_support import metric_form, post_form

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.metrics.extract import ValueSelector
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org


def _selector(db: Database, metric_id: str) -> ValueSelector | None:
    with db.connect() as conn:
        org_id = get_or_create_org(conn, "default")
        return MetricStore(conn, org_id).get(metric_id).selector


def _errors(html: str) -> dict[str, str]:
    found = re.findall(r'<li data-field="([^"]+)"><b>[^<]*</b>: ([^<]*)</li>', html)
    return {field: unescape(message) for field, message in found}


def test_the_form_makes_shows_and_changes_a_freshness_check(ui: TestClient, db: Database) -> None:
    # Given a metric made on the form with a fresh column and a max age
    made = post_form(ui, "/ui/metrics/new", metric_form(fresh="updated_at", max_age="1h"))
    assert made.status_code == 303, made.text
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    assert _selector(db, metric_id) == ValueSelector(
        fresh_column="updated_at", max_age_seconds=3600
    )
    # Then its page says so, and the edit form shows it back
    assert "Freshness: updated_at, max 1h" in ui.get(f"/ui/metrics/{metric_id}").text
    edit = ui.get(f"/ui/metrics/{metric_id}/edit").text
    assert 'name="fresh" value="updated_at"' in edit and 'name="max_age" value="1h"' in edit
    # When the field is given a JSONPath instead, it is the fresh path
    changed = post_form(
        ui, f"/ui/metrics/{metric_id}/edit", metric_form(fresh="$.at", max_age="30m")
    )
    assert changed.status_code == 303, changed.text
    assert _selector(db, metric_id) == ValueSelector(fresh_path="$.at", max_age_seconds=1800)
    # A post without the fields (not this form's) keeps the stored check
    kept = post_form(ui, f"/ui/metrics/{metric_id}/edit", {"name": "Open Issues"})
    assert kept.status_code == 303, kept.text
    assert _selector(db, metric_id) == ValueSelector(fresh_path="$.at", max_age_seconds=1800)
    # And with both fields emptied the check is off
    off = post_form(ui, f"/ui/metrics/{metric_id}/edit", metric_form(fresh="", max_age=""))
    assert off.status_code == 303, off.text
    assert _selector(db, metric_id) == ValueSelector()
    assert "Freshness:" not in ui.get(f"/ui/metrics/{metric_id}").text


def test_bad_freshness_is_shown_beside_its_field_and_changes_nothing(
    ui: TestClient, db: Database
) -> None:
    for fields, field, words in (
        ({"fresh": "updated_at", "max_age": ""}, "max_age", "expected how old"),
        ({"fresh": "", "max_age": "1h"}, "max_age", "applies with"),
        ({"fresh": "updated_at", "max_age": "0"}, "max_age", "positive"),
        ({"fresh": "$[", "max_age": "1h"}, "fresh", "JSONPath"),
    ):
        resp = post_form(ui, "/ui/metrics/new", metric_form(**fields))
        assert resp.status_code == 422
        assert words in _errors(resp.text)[field]
        assert f'data-field="{field}"' in resp.text  # beside the field too
    with db.connect() as conn:
        assert MetricStore(conn, get_or_create_org(conn, "default")).list_metrics() == []
    # On an edit too: the stored check stays as it was
    made = post_form(ui, "/ui/metrics/new", metric_form(fresh="updated_at", max_age="1h"))
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    bad = post_form(
        ui, f"/ui/metrics/{metric_id}/edit", metric_form(fresh="updated_at", max_age="soon")
    )
    assert bad.status_code == 422 and "not a duration" in _errors(bad.text)["max_age"]
    assert _selector(db, metric_id) == ValueSelector(
        fresh_column="updated_at", max_age_seconds=3600
    )


def test_a_stale_run_says_so_in_the_runs_table(ui: TestClient, db: Database) -> None:
    # Given a pushed metric read at $.n whose data must be at most an hour old
    made = post_form(
        ui, "/ui/metrics/new", metric_form(json_path="$.n", fresh="$.at", max_age="1h")
    )
    assert made.status_code == 303, made.text
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    # When a reading from 2020 is pushed, then a fresh one
    for at in ("2020-01-01T00:00:00Z", None):
        reading = '{"n": 3, "at": "%s"}' % (at or utcnow().isoformat())
        pushed = post_form(ui, f"/ui/metrics/{metric_id}/run", {"value": reading})
        assert pushed.status_code == 303, pushed.text
    # Then the runs table reads the old one as stale, the new one by its value
    page = unescape(ui.get(f"/ui/metrics/{metric_id}").text)
    rows = page[page.index('id="runs"') :].split("<tr>")[2:4]
    assert '<td class="num">3</td><td class="">' in rows[0]
    assert '<td class="error">no value: data stale: newest timestamp ' in rows[1]
