"""The metric form's "Expect a value every" and the metric page, on SQLite and PostgreSQL:
the same builder as ``--expect-every``, emptied to turn it off, bad input pointed out
beside the field, and the ``missing`` runs it causes in the page's runs table."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import update
from web_support import metric_form, post_form

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.execution.silence import record_missing_runs
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def _stored(db: Database, metric_id: str) -> Metric:
    with db.connect() as conn:
        return MetricStore(conn, get_or_create_org(conn, "default")).get(metric_id)


def _edit(**fields: str) -> dict[str, str]:
    return {"name": "Heartbeat", "description": "", "expect_every": "10m"} | fields


def test_the_form_sets_shows_and_turns_off_the_switch(ui: TestClient, db: Database) -> None:
    assert 'name="expect_every"' in ui.get("/ui/metrics/new").text
    made = post_form(ui, "/ui/metrics/new", metric_form("Heartbeat", expect_every="10m"))
    assert made.status_code == 303, made.text
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    assert _stored(db, metric_id).expect_every_seconds == 600
    page = ui.get(f"/ui/metrics/{metric_id}").text
    assert "expects a value every 10m" in page
    form = ui.get(f"/ui/metrics/{metric_id}/edit").text
    assert re.search(r'name="expect_every" value="10m"', form)

    saved = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit(expect_every="1h"))
    assert saved.status_code == 303
    assert _stored(db, metric_id).expect_every_seconds == 3600
    # A post without the field leaves it; the field emptied turns the switch off.
    kept = post_form(ui, f"/ui/metrics/{metric_id}/edit", {"name": "Heartbeat"})
    assert kept.status_code == 303 and _stored(db, metric_id).expect_every_seconds == 3600
    off = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit(expect_every=""))
    assert off.status_code == 303 and _stored(db, metric_id).expect_every_seconds is None
    assert "expects a value every" not in ui.get(f"/ui/metrics/{metric_id}").text


def test_a_bad_period_is_shown_beside_the_field_and_changes_nothing(
    ui: TestClient, db: Database
) -> None:
    refused = post_form(ui, "/ui/metrics/new", metric_form("Heartbeat", expect_every="0"))
    assert refused.status_code == 422
    assert 'data-field="expect_every"' in refused.text and 'value="0"' in refused.text
    made = post_form(ui, "/ui/metrics/new", metric_form("Heartbeat", expect_every="10m"))
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    for bad in ("0", "soon"):
        refused = post_form(ui, f"/ui/metrics/{metric_id}/edit", _edit(expect_every=bad))
        assert refused.status_code == 422, bad
        assert 'data-field="expect_every"' in refused.text, bad
    assert _stored(db, metric_id).expect_every_seconds == 600


def test_a_missing_run_shows_in_the_runs_table(ui: TestClient, db: Database) -> None:
    made = post_form(ui, "/ui/metrics/new", metric_form("Heartbeat", expect_every="10m"))
    metric_id = str(made.headers["location"]).rsplit("/", 1)[1]
    with db.begin() as conn:
        conn.execute(update(metrics).values(missing_due_at=utcnow() - timedelta(seconds=1)))
    record_missing_runs(db, Settings())
    page = unescape(ui.get(f"/ui/metrics/{metric_id}").text)
    runs = page[page.index('id="runs"') :]
    assert '<span class="status pending">missing</span>' in runs
    assert "no value received for 10m" in runs
    listed = unescape(ui.get("/ui/metrics").text)
    assert "missing" in listed and "no value received for 10m" in listed
