"""The alert form's series settings (issue 16): which series to watch and when a missing
series resolves, set, shown and refused in the UI as the API does. Given / when / then,
on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import uuid

from fastapi.testclient import TestClient
from web_support import alert_form, post_form

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org


def setup_series_metric(db: Database) -> tuple[uuid.UUID, Metric]:
    with db.begin() as conn:
        org = get_or_create_org(conn, "default")  # the org of the UI on loopback
        metric = MetricStore(conn, org).create(
            {
                "name": "Errors by service",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
            }
        )
    return org, metric


def test_a_new_alert_watches_the_series_the_form_names(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    # When the form names two matchers, one a line, and 3 runs for a missing series
    form = alert_form(
        str(metric.id),
        series_filter="service!=batch\r\nregion=~eu-(west|north)-\\d{1,2}",
        resolve_missing_after="3",
    )
    made = post_form(ui, "/ui/alerts/new", form)
    assert made.status_code == 303, made.text
    with db.connect() as conn:
        (alert,) = AlertStore(conn, org).list_alerts()
    # Then the alert watches exactly those (a regex with a comma stays whole)
    assert alert.series_filter == ["service!=batch", "region=~eu-(west|north)-\\d{1,2}"]
    assert alert.resolve_missing_after == 3
    # and its edit form shows them back
    page = html.unescape(ui.get(f"/ui/alerts/{alert.id}/edit").text)
    assert "service!=batch\nregion=~eu-(west|north)-\\d{1,2}</textarea>" in page
    assert 'name="resolve_missing_after" type="number" min="1" max="1000" value="3"' in page


def test_emptying_the_series_box_watches_every_series_again(ui: TestClient, db: Database) -> None:
    org, metric = setup_series_metric(db)
    with db.begin() as conn:
        alert = AlertStore(conn, org).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
                "series_filter": ["service!=batch"],
            }
        )
    form = alert_form(str(metric.id), "Too many errors", series_filter="")
    saved = post_form(ui, f"/ui/alerts/{alert.id}/edit", form)
    assert saved.status_code == 303, saved.text
    with db.connect() as conn:
        assert AlertStore(conn, org).get_alert(alert.id).series_filter == []


def test_a_bad_matcher_is_refused_naming_the_field_and_nothing_is_saved(
    ui: TestClient, db: Database
) -> None:
    org, metric = setup_series_metric(db)
    for bad in ("service", "service=~(a", "service=~(a)\\1"):
        page = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), series_filter=bad))
        # Then the form comes back with the error beside the field
        assert page.status_code == 422, (bad, page.status_code)
        assert 'data-field="series_filter"' in page.text, bad
    missing = post_form(ui, "/ui/alerts/new", alert_form(str(metric.id), resolve_missing_after="0"))
    assert missing.status_code == 422
    assert 'data-field="resolve_missing_after"' in missing.text
    with db.connect() as conn:
        assert AlertStore(conn, org).list_alerts() == []
