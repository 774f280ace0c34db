"""Who may see the UI: the loopback operator without a login; anyone else with an API
key, kept in a signed HttpOnly cookie, seeing only the key's organisation."""

from __future__ import annotations

import base64
import json
import re
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from web_support import csrf_of

from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key, list_api_keys, revoke_api_key
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings
from tocsin.web.access import is_loopback, login_required


def _org_with_alert(db: Database, org: str) -> tuple[uuid.UUID, str, str]:
    """An org with an "Open Issues" metric (the name every org uses) and an alert."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        metric = MetricStore(conn, org_id).create(
            {"name": "Open Issues", "source": {"type": "push"}}
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": f"{org} alert",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        _, key = create_api_key(conn, org_id, f"{org} ui")
    return org_id, str(alert.id), key


def _login(client: TestClient, key: str, next_path: str = "/ui/") -> httpx.Response:
    token = csrf_of(client, "/ui/login")
    return client.post(
        "/ui/login",
        data={"csrf_token": token, "api_key": key, "next": next_path},
        follow_redirects=False,
    )


def test_loopback_means_no_login() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("tocsin.example.com")
    assert not login_required(Settings(), "127.0.0.1")
    assert login_required(Settings(), "0.0.0.0")
    assert login_required(Settings(ui_auth="required"), "127.0.0.1")


def test_network_bind_without_a_key_is_refused(public_ui: TestClient, db: Database) -> None:
    _, alert_id, _ = _org_with_alert(db, "acme")
    page = public_ui.get("/ui/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/ui/login?next=/ui/"
    for path in (f"/ui/alerts/{alert_id}", f"/ui/alerts/{alert_id}/chart.json", "/ui/metrics"):
        resp = public_ui.get(path, follow_redirects=False)
        assert resp.status_code == 303, path
        assert "acme alert" not in resp.text
    token = csrf_of(public_ui, "/ui/login")
    post = public_ui.post(
        f"/ui/alerts/{alert_id}/mute",
        data={"csrf_token": token, "for": "1h"},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert post.status_code == 401 and post.headers["HX-Redirect"] == "/ui/login"
    bad = _login(public_ui, "tsn_notakey_000")
    assert bad.status_code == 401
    assert "not valid" in bad.text and "tsn_notakey_000" not in bad.text


def test_a_key_opens_its_own_org_only(public_ui: TestClient, db: Database) -> None:
    _, acme_alert, acme_key = _org_with_alert(db, "acme")
    globex_org, globex_alert, _ = _org_with_alert(db, "globex")

    resp = _login(public_ui, acme_key, "/ui/metrics")
    assert resp.status_code == 303
    assert resp.headers["location"] == "/ui/metrics"
    cookie = resp.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "path=/ui" in cookie.lower() and acme_key not in cookie

    home = public_ui.get("/ui/").text
    assert "acme alert" in home and "globex alert" not in home
    assert "org <b>acme</b>" in home and "Log out" in home
    assert public_ui.get(f"/ui/alerts/{acme_alert}").status_code == 200
    # The other org's objects, by id or by a name both orgs use, are not found.
    assert public_ui.get(f"/ui/alerts/{globex_alert}").status_code == 404
    assert public_ui.get(f"/ui/alerts/{globex_alert}/chart.json").status_code == 404
    assert public_ui.get(f"/ui/alerts/{globex_alert}/edit").status_code == 404
    token = csrf_of(public_ui)
    for action in ("mute", "disable", "delete", "test"):
        resp = public_ui.post(
            f"/ui/alerts/{globex_alert}/{action}",
            data={"csrf_token": token, "for": "1h"},
            follow_redirects=False,
        )
        assert resp.status_code == 404, action
    with db.connect() as conn:
        untouched = AlertStore(conn, globex_org).get_alert(globex_alert)
    assert untouched.muted_until is None and untouched.enabled
    mine = public_ui.get("/ui/metrics/Open Issues").text
    assert "acme alert" in mine and "globex alert" not in mine


def test_revoking_the_key_ends_the_session(public_ui: TestClient, db: Database) -> None:
    org_id, _, key = _org_with_alert(db, "acme")
    _login(public_ui, key)
    assert public_ui.get("/ui/").status_code == 200
    with db.begin() as conn:
        (found,) = list_api_keys(conn, org_id)
        revoke_api_key(conn, org_id, found.id)
    resp = public_ui.get("/ui/", follow_redirects=False)
    assert resp.status_code == 303 and "/ui/login" in resp.headers["location"]


def test_log_out_and_login_need_the_csrf_token(public_ui: TestClient, db: Database) -> None:
    _, _, key = _org_with_alert(db, "acme")
    forged = public_ui.post("/ui/login", data={"api_key": key}, follow_redirects=False)
    assert forged.status_code == 403
    _login(public_ui, key)
    token = csrf_of(public_ui)
    out = public_ui.post("/ui/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert public_ui.get("/ui/", follow_redirects=False).status_code == 303


def test_next_never_leaves_the_ui(public_ui: TestClient, db: Database) -> None:
    _, _, key = _org_with_alert(db, "acme")
    resp = _login(public_ui, key, "https://evil.example/")
    assert resp.headers["location"] == "/ui/"
    login_page = public_ui.get("/ui/login?next=//evil.example/x").text
    assert re.search(r'name="next" value="/ui/"', login_page)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_required_login_on_loopback_and_a_random_key_when_none_is_set(
    db: Database, db_url: str
) -> None:
    settings = Settings(database_url=db_url, ui_auth="required")
    org_id, _, key = _org_with_alert(db, "acme")
    with db.connect() as conn:
        (found,) = list_api_keys(conn, org_id)
    # No TOCSIN_SECRET_KEY: sessions are signed with a per-process key, not the public
    # default, so a session cookie forged with "change-me" opens nothing.
    payload = base64.b64encode(json.dumps({"key_id": str(found.id)}).encode())
    forged = TimestampSigner("change-me").sign(payload).decode()
    with TestClient(create_app(db, settings, ui_bind_host="127.0.0.1")) as client:
        client.cookies.set("tocsin_ui", forged, path="/ui")
        assert client.get("/ui/", follow_redirects=False).status_code == 303
        assert _login(client, key).status_code == 303
        assert client.get("/ui/").status_code == 200
