"""The alert form's recovery fields (issue 18 item 2), on SQLite and PostgreSQL: blank by
default, a recovery condition and "the value before it fired" saved and shown back,
emptied to go back to the default, and a recovery from the episode refused on a
threshold alert with the field named and nothing saved."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_alert_form_series import setup_series_metric
from web_support import alert_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database


def test_the_form_saves_shows_and_clears_a_recovery_condition(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    new = ui.get("/ui/alerts/new").text
    assert 'name="recovery_threshold" value=""' in new
    form = alert_form(
        str(metric.id), condition_type="relative_change", comparison_op="lt",
        threshold_value="-20", recovery_op="gt", recovery_threshold="-5", recover_from="episode",
    )  # fmt: skip
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    assert (alert.recovery_op, str(alert.recovery_threshold), alert.recover_from) == (
        "gt",
        "-5",
        "episode",
    )
    edit = ui.get(f"/ui/alerts/{alert.id}/edit").text
    assert 'name="recovery_threshold" value="-5"' in edit
    assert '<option value="episode" selected>' in edit
    cleared = post_form(
        ui, f"/ui/alerts/{alert.id}/edit", form | {"recovery_threshold": "", "recover_from": "run"}
    )
    assert cleared.status_code == 303, cleared.text
    with db.connect() as conn:
        again = AlertStore(conn, org).get_alert(alert.id)
    assert (again.recovery_op, again.recovery_threshold, again.recover_from) == (None, None, "run")


def test_recovery_from_the_episode_is_refused_on_a_threshold_alert(
    ui: TestClient, db: Database
) -> None:
    org, metric = setup_series_metric(db)
    refused = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), recover_from="episode"))
    assert refused.status_code == 422
    assert 'data-field="recover_from"' in refused.text
    with db.connect() as conn:
        assert AlertStore(conn, org).list_alerts() == []


def test_the_alert_chart_draws_where_it_recovers(ui: TestClient, db: Database) -> None:
    # Given an alert "> 10, recovers < 4" over a pushed metric with three runs
    from test_pages import _metric, _push

    metric_id = _metric(ui, "Queue")
    form = alert_form(metric_id, threshold_value="10", recovery_op="lt", recovery_threshold="4")
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    alert_id = str(made.headers["location"]).rsplit("/", 1)[1]
    for value in ("11", "8", "3"):
        _push(ui, metric_id, value)
    # Then its chart data has the recovery line beside the limit, and the chart draws it
    data = ui.get(f"/ui/alerts/{alert_id}/chart.json").json()
    assert data["limit"] == [10.0, 10.0, 10.0] and data["recovery"] == [4.0, 4.0, 4.0]
    assert data["counts"] == {"fired": 1, "suppressed": 0, "resolved": 1}
    script = ui.get("/ui/static/chart.js").text
    assert 'label: "Recovers"' in script
    # and the page says it in words
    assert "Queue is above 10; recovers when &lt; 4" in ui.get(f"/ui/alerts/{alert_id}").text
