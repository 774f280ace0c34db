"""Tocsin's REST API (docs/api.md): ``create_api(db, settings)``; the server's app, with
the web UI, is ``tocsin.app.create_app``."""

from tocsin.api.app import create_api

__all__ = ["create_api"]
