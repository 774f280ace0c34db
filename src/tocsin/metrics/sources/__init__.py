"""Metric sources, one class per ``type``; third parties add theirs through the
``tocsin.sources`` entry-point group."""

from __future__ import annotations

from tocsin.metrics.sources import demo, http, push, sql
from tocsin.metrics.sources.base import (
    ENTRY_POINT_GROUP,
    SOURCES,
    FetchContext,
    Source,
    SourceConfig,
    SourceError,
    build_source,
    load_plugins,
    register,
    validate_source,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "SOURCES",
    "FetchContext",
    "Source",
    "SourceConfig",
    "SourceError",
    "build_source",
    "load_plugins",
    "register",
    "validate_source",
    "demo",
    "http",
    "push",
    "sql",
]
