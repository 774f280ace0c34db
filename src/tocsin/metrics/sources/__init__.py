"""Metric sources, one class per ``type``; third parties add theirs through the
``tocsin.sources`` entry-point group."""

from __future__ import annotations

from tocsin.metrics.sources import demo, http, push, sql
from tocsin.metrics.sources.base import SOURCES, Source, SourceConfig, register, validate_source

__all__ = [
    "SOURCES",
    "Source",
    "SourceConfig",
    "register",
    "validate_source",
    "demo",
    "http",
    "push",
    "sql",
]
