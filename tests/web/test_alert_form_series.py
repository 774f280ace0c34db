"""The alert form's series settings (issue 16): which series to watch and when a missing
series resolves, set, shown and refused in the UI as the API does. Given / when / then,
on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

from fastapi.testclient import TestClient

from tocsin.alerts.store import AlertStore
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def _setup(db: Database) -> tuple[uuid.UUID, Metric]:
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


def _form(metric: Metric, **fields: Any) -> dict[str, Any]:
    return {
        "metric_id": str(metric.id),
        "name": "Too many errors",
        "condition_type": "threshold",
        "comparison_op": "gt",
        "threshold_value": "5",
        "change_mode": "percent",
        "lookback": "1",
        "pending_evaluations": "1",
        "cooldown_seconds": "1h",
        "enabled": "on",
        "action_type": ["log"],
        "action_target": [""],
        "action_secret": [""],
    } | fields


def _post(ui: TestClient, path: str, form: dict[str, Any]) -> Any:
    page = ui.get("/ui/alerts/new").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return ui.post(path, data={"csrf_token": token.group(1)} | form, follow_redirects=False)


def _ui(db: Database) -> TestClient:
    settings = Settings(database_url=db.url, secret_key="test-secret-key-for-ui-sessions")
    return TestClient(create_app(db, settings, ui_bind_host="127.0.0.1"))


def test_a_new_alert_watches_the_series_the_form_names(db: Database) -> None:
    org, metric = _setup(db)
    with _ui(db) as ui:
        # When the form names two matchers, one a line, and 3 runs for a missing series
        made = _post(
            ui,
            "/ui/alerts/new",
            _form(
                metric,
                series_filter="service!=batch\r\nregion=~eu-(west|north)-\\d{1,2}",
                resolve_missing_after="3",
            ),
        )
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


def test_emptying_the_series_box_watches_every_series_again(db: Database) -> None:
    org, metric = _setup(db)
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
    with _ui(db) as ui:
        saved = _post(ui, f"/ui/alerts/{alert.id}/edit", _form(metric, series_filter=""))
    assert saved.status_code == 303, saved.text
    with db.connect() as conn:
        assert AlertStore(conn, org).get_alert(alert.id).series_filter == []


def test_a_bad_matcher_is_refused_naming_the_field_and_nothing_is_saved(db: Database) -> None:
    org, metric = _setup(db)
    with _ui(db) as ui:
        for bad, expected in (
            ("service", "series_filter"),
            ("service=~(a", "series_filter"),
            ("service=~(a)\\1", "series_filter"),
        ):
            page = _post(ui, "/ui/alerts/new", _form(metric, series_filter=bad))
            # Then the form comes back with the error beside the field
            assert page.status_code == 422, (bad, page.status_code)
            assert f'data-field="{expected}"' in page.text, bad
        missing = _post(ui, "/ui/alerts/new", _form(metric, resolve_missing_after="0"))
        assert missing.status_code == 422
        assert 'data-field="resolve_missing_after"' in missing.text
    with db.connect() as conn:
        assert AlertStore(conn, org).list_alerts() == []
