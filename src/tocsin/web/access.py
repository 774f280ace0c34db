"""Who is looking: the UI's access rule, its session cookie and CSRF protection.

Bound to loopback, the UI is the operator's own screen and serves the default org
without a login (as ``tocsin`` on the same machine would), as an admin. Bound anywhere
else, or with ``TOCSIN_UI_AUTH=required``, it asks for an API key once and keeps a
signed, HttpOnly, SameSite session cookie naming the key; the key is checked on every
request, so revoking it ends the session. The cookie also holds a digest of the key's
stored hash, refused unless it matches the key's row: whoever has the signing key and
a key's ID, but not the key, can sign a cookie that opens nothing. The key's role is
read from its row on every request, never from the cookie. Every form and htmx request
carries a CSRF token tied to the session, in loopback mode too: any web page the
operator visits could otherwise post to ``127.0.0.1``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, select

from tocsin.db.database import Database
from tocsin.db.schema import api_keys, orgs
from tocsin.orgs import get_or_create_org
from tocsin.roles import OPERATOR_ROLE, Role, as_role, role_allows
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.web")

DEFAULT_ORG = "default"
SESSION_COOKIE = "tocsin_ui"
SESSION_MAX_AGE = 14 * 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_UNSAFE_DEFAULT_SECRET = "change-me"
_BINDING_LABEL = b"tocsin ui session binding v1"


class LoginRequired(Exception):
    """No session (or its key was revoked): the page asks for an API key."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


@dataclass(frozen=True)
class Viewer:
    org_id: uuid.UUID
    org_name: str
    key_name: str | None  # None: the loopback operator, no login
    role: Role

    @property
    def can_edit(self) -> bool:
        return role_allows(self.role, "editor")


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def login_required(settings: Settings, bind_host: str) -> bool:
    return settings.ui_auth == "required" or not is_loopback(bind_host)


def session_secret(settings: Settings, needs_login: bool) -> str:
    """The cookie signing key. The shipped default is public, so with logins on it would
    let anyone forge a session: then a random per-process key is used instead (sessions
    end when the server restarts) until ``TOCSIN_SECRET_KEY`` is set."""
    configured = settings.secret_key.get_secret_value()
    if needs_login and configured == _UNSAFE_DEFAULT_SECRET:
        logger.warning(
            "TOCSIN_SECRET_KEY is not set: UI sessions use a random key and end on restart"
        )
        return secrets.token_urlsafe(32)
    return configured


def session_binding(key_hash: str) -> str:
    """What the session keeps of its key: a digest of the stored hash, which only the
    database (or the key itself) can give, and which gives back neither."""
    return hmac.new(_BINDING_LABEL, key_hash.encode(), hashlib.sha256).hexdigest()[:32]


def bind_session(session: dict[str, Any], key_id: uuid.UUID, key_hash: str) -> None:
    session["key_id"] = str(key_id)
    session["bind"] = session_binding(key_hash)


_KEY_BY_ID = (
    select(
        api_keys.c.name,
        api_keys.c.org_id,
        api_keys.c.key_hash,
        api_keys.c.role,
        orgs.c.name.label("org_name"),
    )
    .join(orgs, orgs.c.id == api_keys.c.org_id)
    .where(api_keys.c.id == bindparam("key_id"), api_keys.c.revoked_at.is_(None))
)


class Access:
    """Resolves the viewer of a request under the server's access rule."""

    def __init__(self, db: Database, *, needs_login: bool, org: str = DEFAULT_ORG) -> None:
        self.db = db
        self.needs_login = needs_login
        self.org = org
        self._default_org: uuid.UUID | None = None

    def default_org(self) -> uuid.UUID:
        if self._default_org is None:
            with self.db.begin() as conn:
                self._default_org = get_or_create_org(conn, self.org)
        return self._default_org

    def viewer(self, request: Request) -> Viewer:
        if not self.needs_login:
            return Viewer(self.default_org(), self.org, None, OPERATOR_ROLE)
        session = request.session
        key_id, binding = session.get("key_id"), session.get("bind")
        if not isinstance(key_id, str) or not isinstance(binding, str):
            raise LoginRequired
        try:
            ident = uuid.UUID(key_id)
        except ValueError:
            raise LoginRequired from None
        with self.db.connect() as conn:
            row = conn.execute(_KEY_BY_ID, {"key_id": ident}).first()
        expected = session_binding(row.key_hash) if row is not None else ""
        if row is None or not hmac.compare_digest(expected.encode(), binding.encode()):
            # Revoked (or deleted) since the login, or a cookie that never came from a
            # login with this key: the session ends.
            session.clear()
            raise LoginRequired
        return Viewer(row.org_id, row.org_name, row.name, as_role(row.role))


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Any = None) -> None:
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and form is not None:
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not isinstance(expected, str) or given is None:
        raise CsrfRefused
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise CsrfRefused


def safe_next(target: str | None) -> str:
    """Only a path inside the UI: never an open redirect to another site."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"
