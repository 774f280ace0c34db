"""Roles in the UI: a viewer's session reads and is refused every change (a 403 page);
the role comes from the key's row on each request, never from the cookie; the
loopback operator is an admin."""

from __future__ import annotations

import uuid

import httpx
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from web_support import alert_form, csrf_of, metric_form

from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.db.schema import api_keys, metric_executions
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

WRITE_BUTTONS = ("Send test", "Mute 1 h", "Disable", "Delete", ">Edit<")
# Posts anyone may make: they change the session, not the org.
SESSION_POSTS = {"/login", "/logout"}


def _org(db: Database, role: str, org: str = "acme") -> tuple[uuid.UUID, str, str, uuid.UUID, str]:
    """``org`` with a metric and an alert, and a key of ``role``."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        metric = MetricStore(conn, org_id).create(
            {"name": "Open Issues", "source": {"type": "push"}}
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "acme alert",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        found, key = create_api_key(conn, org_id, f"{role} ui", role)
    return org_id, str(metric.id), str(alert.id), found.id, key


def _login(client: TestClient, key: str) -> None:
    token = csrf_of(client, "/ui/login")
    resp = client.post(
        "/ui/login", data={"csrf_token": token, "api_key": key}, follow_redirects=False
    )
    assert resp.status_code == 303, resp.text


def _ui_posts() -> list[str]:
    # The routers create_ui includes (an included router is wrapped, its routes private).
    from tocsin.web import alert_pages, chat, editor, login, metric_pages

    return [
        r.path
        for module in (login, editor, alert_pages, metric_pages, chat)
        for r in module.router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods and r.path not in SESSION_POSTS
    ]


def _post(client: TestClient, path: str, data: dict[str, object]) -> httpx.Response:
    token = csrf_of(client)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_a_viewer_reads_and_is_refused_every_change(public_ui: TestClient, db: Database) -> None:
    org_id, metric_id, alert_id, _, key = _org(db, "viewer")
    _login(public_ui, key)

    home = public_ui.get("/ui/")
    assert home.status_code == 200 and "acme alert" in home.text
    assert "read only" in home.text and "New alert" not in home.text
    assert 'id="chat-form"' not in home.text
    page = public_ui.get(f"/ui/alerts/{alert_id}")
    assert page.status_code == 200 and "acme alert" in page.text
    assert not [b for b in WRITE_BUTTONS if b in page.text]
    metric = public_ui.get(f"/ui/metrics/{metric_id}").text
    assert "Record value" not in metric and "New alert on this metric" not in metric
    assert not [b for b in (">Edit<", ">Delete<", "curl -X POST", "data-copy") if b in metric]
    assert 'id="chart"' in metric  # the chart is for reading
    assert "New metric" not in public_ui.get("/ui/metrics").text

    # The form pages themselves, and every post the UI has, are refused.
    for path in (
        "/ui/alerts/new",
        f"/ui/alerts/{alert_id}/edit",
        "/ui/metrics/new",
        f"/ui/metrics/{metric_id}/edit",
    ):
        resp = public_ui.get(path)
        assert resp.status_code == 403 and "role is viewer" in resp.text, path
    forms = {
        "/metrics/new": metric_form("Made By Viewer"),
        "/alerts/new": alert_form(metric_id, "made by viewer"),
        "/alerts/{alert_id}/edit": alert_form(metric_id, "renamed by viewer"),
        "/alerts/{alert_id}/mute": {"for": "1d"},
        "/metrics/{metric_id}/run": {"value": "9"},
        "/metrics/{metric_id}/edit": {"name": "renamed by viewer", "every": ""},
        "/metrics/{metric_id}/delete": {"confirm": "yes"},
        "/chat": {"message": "Notify me if Open Issues > 9"},
    }
    posts = _ui_posts()
    assert len(posts) >= 15, posts
    for path in posts:
        url = "/ui" + path.format(alert_id=alert_id, metric_id=metric_id, delivery_id=uuid.uuid4())
        resp = _post(public_ui, url, forms.get(path, {}))
        assert resp.status_code == 403, (path, resp.text)
        assert "Not allowed" in resp.text, path
    with db.connect() as conn:
        alert = AlertStore(conn, org_id).get_alert(alert_id)
        assert alert.name == "acme alert" and alert.muted_until is None and alert.enabled
        assert MetricStore(conn, org_id).names() == ["Open Issues"]
        runs = conn.execute(select(func.count()).select_from(metric_executions)).scalar_one()
        assert runs == 0


def test_the_role_is_read_from_the_key_each_request(public_ui: TestClient, db: Database) -> None:
    org_id, _, alert_id, key_id, key = _org(db, "viewer")
    _login(public_ui, key)
    assert _post(public_ui, f"/ui/alerts/{alert_id}/mute", {"for": "1h"}).status_code == 403

    def set_role(role: str) -> None:
        with db.begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(role=role))

    set_role("editor")  # same session, same cookie
    assert "Send test" in public_ui.get(f"/ui/alerts/{alert_id}").text
    assert _post(public_ui, f"/ui/alerts/{alert_id}/mute", {"for": "1h"}).status_code == 303
    set_role("viewer")
    assert _post(public_ui, f"/ui/alerts/{alert_id}/unmute", {}).status_code == 403
    with db.connect() as conn:
        assert AlertStore(conn, org_id).get_alert(alert_id).muted_until is not None


def test_an_editor_and_the_loopback_operator_see_the_buttons(
    public_ui: TestClient, ui: TestClient, db: Database
) -> None:
    _, _, alert_id, _, key = _org(db, "editor")
    _login(public_ui, key)
    page = public_ui.get(f"/ui/alerts/{alert_id}").text
    assert all(b in page for b in WRITE_BUTTONS) and "read only" not in page
    assert _post(public_ui, f"/ui/alerts/{alert_id}/mute", {"for": "1h"}).status_code == 303
    # No login on loopback: the operator at the machine can do everything.
    _, _, local_alert, _, _ = _org(db, "viewer", "default")  # its keys play no part
    local = ui.get(f"/ui/alerts/{local_alert}").text
    assert all(b in local for b in WRITE_BUTTONS) and 'id="chat-form"' in local
    assert _post(ui, f"/ui/alerts/{local_alert}/mute", {"for": "1h"}).status_code == 303
