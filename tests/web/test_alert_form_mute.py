"""The alert form's "drop resolves while muted" box (issue 17 item 5), on SQLite and
PostgreSQL: off for a new alert, saved as ticked, shown back when editing."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_alert_form_series import setup_series_metric
from web_support import alert_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database


def test_the_form_saves_and_shows_drop_resolves_while_muted(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    new = ui.get("/ui/alerts/new").text
    assert 'name="drop_resolve_when_muted" >' in new  # unticked by default
    form = alert_form(str(metric.id), drop_resolve_when_muted="on")
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    assert alert.drop_resolve_when_muted is True
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    assert 'name="drop_resolve_when_muted" checked>' in edit
