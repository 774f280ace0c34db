"""A notification's link opens the alert's page on a running server."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from tocsin.alerts.actions import trigger_notification
from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.db.schema import notification_deliveries
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def test_a_payloads_link_is_the_alerts_page(
    ui: TestClient, db: Database, ui_settings: Settings
) -> None:
    # Given an alert of the org the loopback UI shows, and a key to push with
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        metric = MetricStore(conn, org_id).create({"name": "Queue", "source": {"type": "push"}})
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Queue too deep",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        _, key = create_api_key(conn, org_id, "links test")
    # When a value fires it
    resp = ui.post(
        f"/api/v1/metrics/{metric.id}/values",
        json={"value": 6},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert resp.status_code == 200, resp.text
    with db.connect() as conn:
        (payload,) = conn.execute(select(notification_deliveries.c.payload)).scalars()
    # Then the link it carries, followed on the server, is the alert's page
    link = payload["link"]
    assert link.startswith(ui_settings.public_url)
    page = ui.get(urlsplit(link).path)
    assert page.status_code == 200
    assert "Queue too deep" in page.text
    # and so is a test notification's
    test_link = trigger_notification(alert, 6, settings=ui_settings).link
    assert test_link == link
