"""The alert form's "Remind every" (issue 18, reminders apart from the cooldown), on
SQLite and PostgreSQL: blank (never) for a new alert, saved, shown back when editing,
emptied to turn reminders off, and a bad duration refused beside the field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_alert_form_series import setup_series_metric
from web_support import alert_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database


def test_the_form_saves_shows_and_clears_reminders(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    new = ui.get("/ui/alerts/new").text
    assert 'name="repeat_every_seconds" value=""' in new
    made = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), repeat_every_seconds="4h"))
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    assert alert.repeat_every_seconds == 4 * 3600
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    assert 'name="repeat_every_seconds" value="4h"' in edit
    cleared = post_form(
        ui, f"/ui/alerts/{alert.id}/edit", alert_form(str(metric.id), repeat_every_seconds="")
    )
    assert cleared.status_code == 303, cleared.text
    with db.connect() as conn:
        assert AlertStore(conn, org).get_alert(alert.id).repeat_every_seconds is None


def test_a_bad_reminder_interval_is_refused_and_saves_nothing(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    refused = post_form(
        ui, "/ui/alerts/new", alert_form(str(metric.id), repeat_every_seconds="soonish")
    )
    assert refused.status_code == 422
    assert 'data-field="repeat_every_seconds"' in refused.text
    with db.connect() as conn:
        assert AlertStore(conn, org).list_alerts() == []


def test_the_form_saves_and_shows_durations(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    new = ui.get("/ui/alerts/new").text
    assert 'name="for_seconds" value=""' in new and 'name="keep_firing_seconds" value=""' in new
    form = alert_form(str(metric.id), for_seconds="5m", keep_firing_seconds="10m")
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    assert (alert.for_seconds, alert.keep_firing_seconds) == (300, 600)
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    assert (
        'name="for_seconds" value="5m"' in edit and 'name="keep_firing_seconds" value="10m"' in edit
    )
    off = post_form(ui, f"/ui/alerts/{alert.id}/edit", form | {"for_seconds": ""})
    assert off.status_code == 303, off.text
    with db.connect() as conn:
        assert AlertStore(conn, org).get_alert(alert.id).for_seconds == 0
    bad = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), "other", for_seconds="ages"))
    assert bad.status_code == 422 and 'data-field="for_seconds"' in bad.text
