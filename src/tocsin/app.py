"""The app ``tocsin serve`` runs: the REST API with the web UI mounted at ``/ui``.

Composed here, outside both: the UI builds on the API (its dependencies, request
schemas, error wording and key check), so the API cannot import the UI without the two
importing each other. Neither knows this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from tocsin.api.app import create_api
from tocsin.db.database import Database
from tocsin.settings import Settings
from tocsin.web import create_ui, mount_ui


def create_app(
    db: Database,
    settings: Settings,
    *,
    runner_status: Callable[[], dict[str, Any]] | None = None,
    ui_bind_host: str | None = "127.0.0.1",
    ui_org: str = "default",
) -> FastAPI:
    """The API app over ``db`` (``runner_status``: see ``create_api``) with the UI.
    ``ui_bind_host`` is the address the server listens on, which decides whether the web
    UI at ``/ui`` asks for a login (without one it shows ``ui_org``); None leaves the UI
    out."""
    if ui_bind_host is None:
        return create_api(db, settings, runner_status=runner_status)
    ui = create_ui(db, settings, bind_host=ui_bind_host, org=ui_org)
    app = create_api(db, settings, runner_status=runner_status, share_http_with=[ui])
    mount_ui(app, ui)
    return app
