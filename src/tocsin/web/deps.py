"""What every UI route needs: the viewer, the database, the settings, a checked form.

The database, settings and HTTP client come through the API's own dependencies: the UI
app carries the same state (``request.app`` is the UI app inside its mount)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from tocsin.api.routes.common import database, http_client, settings
from tocsin.db.database import Database
from tocsin.http import HttpClient
from tocsin.roles import check_role
from tocsin.settings import Settings
from tocsin.web.access import Viewer, check_csrf

_READS = frozenset({"GET", "HEAD"})


def current_viewer(request: Request) -> Viewer:
    """The viewer; any request but a read needs an editor's role. Every UI route that
    changes something is a POST, so none can be left unchecked by forgetting to ask."""
    viewer: Viewer = request.app.state.access.viewer(request)
    request.state.viewer = viewer
    if request.method not in _READS:
        check_role(viewer.role, "editor")
    return viewer


def current_editor(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
    """For the pages that are forms to change something: a viewer gets a 403 page."""
    check_role(viewer.role, "editor")
    return viewer


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form()
    check_csrf(request, form)
    return form


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
EditorDep = Annotated[Viewer, Depends(current_editor)]
DbDep = Annotated[Database, Depends(database)]
SettingsDep = Annotated[Settings, Depends(settings)]
HttpDep = Annotated[HttpClient, Depends(http_client)]
FormDep = Annotated[FormData, Depends(checked_form)]
