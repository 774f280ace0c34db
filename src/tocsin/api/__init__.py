"""Tocsin's REST API (PRODUCT.md §4): ``create_app(db, settings)``."""

from tocsin.api.app import create_app

__all__ = ["create_app"]
