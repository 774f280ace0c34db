"""The web UI that ``tocsin serve`` shows at ``/`` (mounted at ``/ui``): alerts, their
charts and history, forms to create, edit and mute them, metrics, and the chat box.

Server-rendered with Jinja2 and htmx; the chart library and htmx are vendored under
``static/vendor`` so the pages work with no internet.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from tocsin.db.database import Database
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.links import UI_PREFIX
from tocsin.settings import Settings
from tocsin.web.access import (
    DEFAULT_ORG,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    Access,
    CsrfRefused,
    LoginRequired,
    login_required,
    session_secret,
)
from tocsin.web.render import STATIC_DIR, is_htmx, render

logger = logging.getLogger("tocsin.web")

# htmx injects its indicator <style>, hence 'unsafe-inline' for styles only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)


def create_ui(
    db: Database, settings: Settings, *, bind_host: str = "127.0.0.1", org: str = DEFAULT_ORG
) -> FastAPI:
    """The UI app for a server bound to ``bind_host``, which decides whether it asks for
    a login (see :mod:`tocsin.web.access`); without a login it shows ``org``."""
    from tocsin.web import alert_pages, chat, editor, login, metric_pages

    needs_login = login_required(settings, bind_host)
    ui = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    ui.state.db = db
    ui.state.settings = settings
    ui.state.access = Access(db, needs_login=needs_login, org=org)
    ui.state.http = None  # set by the parent app's lifespan
    ui.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The editor first: its /alerts/new must win over /alerts/{alert_id}.
    for module in (login, editor, alert_pages, metric_pages, chat):
        ui.include_router(module.router)

    async def login_first(request: Request, exc: Exception) -> Response:
        if request.method == "GET" and not is_htmx(request):
            target = f"{UI_PREFIX}/login?next={request.url.path}"
            return RedirectResponse(target, status_code=303)
        return Response(
            "log in first", status_code=401, headers={"HX-Redirect": f"{UI_PREFIX}/login"}
        )

    async def csrf_refused(request: Request, exc: Exception) -> Response:
        return HTMLResponse(
            "This form has expired or did not come from Tocsin: reload the page and try again.",
            status_code=403,
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", {"title": "Not found", "message": str(exc)}, 404)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            message = "There is no such page."
            return render(request, "error.html", {"title": "Not found", "message": message}, 404)
        return HTMLResponse(str(exc.detail), status_code=exc.status_code, headers=exc.headers)

    async def conflict(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", {"title": "Conflict", "message": str(exc)}, 409)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidInput)
        context = {"title": "Not saved", "errors": exc.errors, "message": None}
        return render(request, "error.html", context, 422)

    ui.add_exception_handler(LoginRequired, login_first)
    ui.add_exception_handler(CsrfRefused, csrf_refused)
    ui.add_exception_handler(NotFound, not_found)
    ui.add_exception_handler(Conflict, conflict)
    ui.add_exception_handler(StarletteHTTPException, http_error)
    ui.add_exception_handler(InvalidInput, invalid)

    @ui.middleware("http")
    async def page_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # No framing (clickjacking on the buttons) and no inline or foreign scripts.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    ui.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings, needs_login),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path=UI_PREFIX,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    return ui


def mount_ui(app: FastAPI, ui: FastAPI) -> None:
    """Mount the UI under ``/ui`` and send ``/`` there."""

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)

    app.mount(UI_PREFIX, ui)


__all__ = ["create_ui", "mount_ui", "UI_PREFIX"]
