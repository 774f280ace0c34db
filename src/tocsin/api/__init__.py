"""Tocsin's REST API (docs/api.md): ``create_app(db, settings)``."""

from tocsin.api.app import create_app

__all__ = ["create_app"]
