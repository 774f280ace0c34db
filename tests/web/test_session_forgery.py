"""Issue 13, hole 3: whoever knows TOCSIN_SECRET_KEY and an API key's ID, but not the
key, could sign a ``tocsin_ui`` cookie naming that ID and open another org's pages. The
session is bound to the key's stored hash, so such a cookie opens nothing."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from web_support import csrf_of

from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

SECRET = "test-secret-key-for-ui-sessions"  # tests/web/conftest.py: the server's key


def _org(db: Database, org: str) -> tuple[uuid.UUID, str, uuid.UUID, str]:
    """An org with a metric, an alert named after it and a key: (org, alert, key id, key)."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        metric = MetricStore(conn, org_id).create(
            {"name": f"{org} revenue", "source": {"type": "push"}}
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": f"{org} secret alert",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        found, key = create_api_key(conn, org_id, f"{org} ui")
    return org_id, str(alert.id), found.id, key


def _sign(session: dict[str, Any]) -> str:
    """A cookie as Starlette's SessionMiddleware signs one, with the server's key."""
    payload = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(SECRET).sign(payload).decode()


def _read(cookie: str) -> dict[str, Any]:
    payload = TimestampSigner(SECRET).unsign(cookie.encode())
    found: dict[str, Any] = json.loads(base64.b64decode(payload))
    return found


def _login(client: TestClient, key: str) -> httpx.Response:
    token = csrf_of(client, "/ui/login")
    resp = client.post(
        "/ui/login", data={"csrf_token": token, "api_key": key}, follow_redirects=False
    )
    assert resp.status_code == 303, resp.text
    return resp


def _with(client: TestClient, cookie: str) -> TestClient:
    # Only this cookie: a refused session is cleared by the server's reply, and the
    # attacker simply sends theirs again.
    client.cookies.clear()
    client.cookies.set("tocsin_ui", cookie, path="/ui")
    return client


def _refused(client: TestClient, cookie: str, alert_id: str) -> None:
    for path in ("/ui/", f"/ui/alerts/{alert_id}", f"/ui/alerts/{alert_id}/chart.json",
                 "/ui/metrics", "/ui/metrics/globex revenue"):  # fmt: skip
        resp = _with(client, cookie).get(path, follow_redirects=False)
        assert resp.status_code == 303 and "/ui/login" in resp.headers["location"], path
        assert "globex" not in resp.text, path
    page = _with(client, cookie).get(f"/ui/alerts/{alert_id}")  # followed: the login page
    assert "Log in" in page.text and "globex" not in page.text


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_cookie_signed_for_another_orgs_key_id_opens_nothing(
    public_ui: TestClient, db: Database, ui_settings: Settings
) -> None:
    assert ui_settings.secret_key.get_secret_value() == SECRET
    globex_org, globex_alert, globex_key_id, _ = _org(db, "globex")
    # The attacker's cookie: the session the server would keep, naming a key ID they
    # learnt, signed with the signing key they hold; they never saw the key itself.
    forged = _sign({"key_id": str(globex_key_id), "csrf": "attacker-chosen"})
    _refused(public_ui, forged, globex_alert)

    # Nor can a forged session change anything with the CSRF token it chose.
    mute = _with(public_ui, forged).post(
        f"/ui/alerts/{globex_alert}/mute",
        data={"csrf_token": "attacker-chosen", "for": "1d"},
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert mute.status_code == 401
    with db.connect() as conn:
        assert AlertStore(conn, globex_org).get_alert(globex_alert).muted_until is None


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_real_session_with_its_key_id_swapped_opens_nothing(
    public_ui: TestClient, db: Database
) -> None:
    _, _, _, evil_key = _org(db, "evil")
    _, globex_alert, globex_key_id, _ = _org(db, "globex")
    # The attacker logs in with a key of their own org, then re-signs their session
    # with the other org's key ID: everything else (binding, CSRF token) is genuine.
    login = _login(public_ui, evil_key)
    assert "evil secret alert" in public_ui.get("/ui/").text
    mine = _read(login.cookies["tocsin_ui"])
    assert mine["key_id"] != str(globex_key_id)
    assert evil_key not in json.dumps(mine)  # the cookie is readable: no key in it
    _refused(public_ui, _sign(mine | {"key_id": str(globex_key_id)}), globex_alert)


def test_a_real_login_still_works_and_survives_requests(
    public_ui: TestClient, db: Database
) -> None:
    _, globex_alert, _, globex_key = _org(db, "globex")
    _login(public_ui, globex_key)
    for _ in range(3):
        page = public_ui.get(f"/ui/alerts/{globex_alert}")
        assert page.status_code == 200 and "globex secret alert" in page.text
