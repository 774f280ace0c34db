"""The FastAPI application: ``/api/v1`` (docs/api.md), ``/healthz``,
``/metrics`` and ``/openapi.json``. The server's app, with the web UI mounted on it, is
``tocsin.app.create_app``: the UI builds on the API's dependencies, so the API does not
import it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin import __version__
from tocsin.api import errors
from tocsin.api.auth import KeyCache
from tocsin.api.openapi_examples import restore_examples
from tocsin.api.routes import alerts, chat, credentials, deliveries, health, metrics
from tocsin.api.routes.common import refuse_unknown_query
from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.links import API_PREFIX
from tocsin.settings import Settings

__all__ = ["API_PREFIX", "create_api"]

MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """\
Metric alerting over HTTP: everything `tocsin` does on the command line.

Every `/api/v1` request carries `Authorization: Bearer <key>` (from
`tocsin apikey create --name N --org O --role R`) and acts within that key's
organisation; another organisation's objects are simply not found (404). A `viewer` key
reads; an `editor` key (the default) also writes; an `admin` key also manages
credentials. A role too small for a route is a 403. Paths take an ID or a name.
Lists answer `{"items": [...], "next_cursor": ...}`; pass `cursor` for the next page.
Bad input is a 422 naming each field and what was expected. Secrets in action configs
are write-only: responses show them as `***redacted***`, and a PATCH that sends the
placeholder back keeps the stored secret.
"""


class BodyTooLarge(StarletteHTTPException):
    # An HTTPException, so that FastAPI's body parsing passes it through as it is
    # instead of turning it into a generic 400.
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit // 1024} KiB")


class BodyLimit:
    """Refuse bodies over ``limit`` bytes, whether announced (Content-Length) or
    streamed, before the app buffers them."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    exc = BodyTooLarge(self.limit)
                    response = JSONResponse({"detail": exc.detail}, status_code=413)
                    await response(scope, receive, send)
                    return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counting_receive, send)


def create_api(
    db: Database,
    settings: Settings,
    *,
    runner_status: Callable[[], dict[str, Any]] | None = None,
    share_http_with: Sequence[FastAPI] = (),
) -> FastAPI:
    """The API app over ``db``. ``runner_status`` reports the in-process runner for
    ``/healthz`` (e.g. ``{"alive": True, ...}``); without one, no runner is reported.
    The apps in ``share_http_with`` (the web UI, mounted by ``tocsin.app``) get this
    app's outbound client while it runs."""
    shared = tuple(share_http_with)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One pooled outbound client for every run, push and test the API performs.
        async with HttpClient(settings) as http:
            for holder in (app, *shared):
                holder.state.http = http
            try:
                yield
            finally:
                for holder in (app, *shared):
                    holder.state.http = None

    app = FastAPI(
        title="Tocsin",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "metrics", "description": "What Tocsin measures, and its runs."},
            {"name": "alerts", "description": "Conditions on metrics and their actions."},
            {"name": "deliveries", "description": "Notifications sent, pending and failed."},
            {"name": "credentials", "description": "Named secrets metric sources use."},
            {"name": "chat", "description": "Alerts from a sentence."},
            {"name": "health", "description": "Tocsin's own health (no key needed)."},
        ],
    )
    app.state.db = db
    app.state.settings = settings
    app.state.key_cache = KeyCache()
    app.state.runner_status = runner_status
    app.state.http = None
    strict_query = [Depends(refuse_unknown_query)]
    for router in (
        metrics.router,
        alerts.router,
        deliveries.router,
        credentials.router,
        chat.router,
    ):
        app.include_router(router, prefix=API_PREFIX, dependencies=strict_query)
    app.include_router(health.router, dependencies=strict_query)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = restore_examples(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    errors.install(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # Added last, so it wraps everything else.
    app.add_middleware(errors.CatchAll)
    return app
