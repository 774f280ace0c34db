"""What every UI route needs: the viewer, the database, the settings, a checked form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.settings import Settings
from tocsin.web.access import Viewer, check_csrf


def current_viewer(request: Request) -> Viewer:
    viewer: Viewer = request.app.state.access.viewer(request)
    request.state.viewer = viewer
    return viewer


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def http_client(request: Request) -> HttpClient:
    client: HttpClient | None = request.app.state.http
    if client is None:
        raise RuntimeError("the outbound HTTP client is not running")
    return client


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form()
    check_csrf(request, form)
    return form


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
DbDep = Annotated[Database, Depends(database)]
SettingsDep = Annotated[Settings, Depends(settings)]
HttpDep = Annotated[HttpClient, Depends(http_client)]
FormDep = Annotated[FormData, Depends(checked_form)]
