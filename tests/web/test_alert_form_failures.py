"""The alert form's handling of broken data (issue 17), on SQLite and PostgreSQL: "When
there is no data" and "When the source fails" choices and the failure-notice box, with
Grafana's defaults on a new alert, saved, shown back when editing, and a forged choice
refused with the field named and nothing saved."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_alert_form_series import setup_series_metric
from web_support import alert_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database


def test_the_form_saves_and_shows_the_handling(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    # Given a new alert's form: its own states, notices on
    new = ui.get("/ui/alerts/new").text
    assert '<option value="no_data" selected>show No data</option>' in new
    assert '<option value="error" selected>show Error</option>' in new
    assert 'name="failure_notice" checked>' in new
    # When saved with no data as OK, errors kept, and notices off
    form = alert_form(str(metric.id), on_no_data="ok", on_error="keep_last")
    del form["failure_notice"]
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    # Then the alert has them, and editing shows them
    assert (alert.on_no_data, alert.on_error, alert.failure_notice) == ("ok", "keep_last", False)
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    assert '<option value="ok" selected>treat as OK</option>' in edit
    assert '<option value="keep_last" selected>keep the last state</option>' in edit
    assert 'name="failure_notice" >' in edit


def test_a_forged_choice_is_refused_and_saves_nothing(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    refused = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), on_error="page-me"))
    assert refused.status_code == 422
    assert "keep_last" in refused.text  # the error under the field says what is expected
    with db.connect() as conn:
        assert AlertStore(conn, org).list_alerts() == []
