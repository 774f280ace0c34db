"""The source registry: validation at create time, build_source, demo, push, plugins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.metrics.sources import (
    ENTRY_POINT_GROUP,
    SOURCES,
    FetchContext,
    Source,
    SourceError,
    base,
    build_source,
    load_plugins,
    validate_source,
)
from tocsin.metrics.sources.demo import DemoSource
from tocsin.settings import Settings


def fetch(source: dict[str, Any], run_number: int = 0) -> object:
    async def go() -> object:
        settings = Settings()
        async with HttpClient(settings) as http:
            ctx = FetchContext(settings=settings, http=http, run_number=run_number, environ={})
            return await build_source(source).fetch(ctx)

    return asyncio.run(go())


def test_builtin_types_are_registered() -> None:
    assert {"push", "demo", "sql", "http"} <= set(SOURCES)
    assert all(issubclass(cls, Source) for cls in SOURCES.values())


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"type": "http", "url": "ftp://x"}, "source.url"),
        ({"type": "http"}, "source.url"),
        ({"type": "http", "url": "https://x", "method": "DELETE"}, "source.method"),
        ({"type": "http", "url": "https://x", "headers": {"Bad Name": "v"}}, "source.headers"),
        ({"type": "http", "url": "https://x", "headers": {"A": "x\r\nB: y"}}, "source.headers"),
        ({"type": "http", "url": "https://x", "headers": {"A": "${not-a-name}"}}, "source.headers"),
        ({"type": "http", "url": "https://x", "body": {"q": 1}}, "source.body"),
        ({"type": "http", "url": "https://x", "timeout_seconds": 0}, "source.timeout_seconds"),
        ({"type": "sql", "sql": "select 1", "dsn_env": "postgres://u:p@h/db"}, "source.dsn_env"),
        ({"type": "sql", "sql": "   ", "dsn_env": "DB"}, "source.sql"),
        ({"type": "sql", "sql": "select 1", "dsn_env": "DB", "max_rows": 0}, "source.max_rows"),
        ({"type": "sql", "sql": "select 1", "dsn_env": "DB", "dsn": "x"}, "source.dsn"),
        ({"type": "demo", "values": []}, "source.values"),
        ({"type": "demo", "values": ["NaN"]}, "source.values.0"),
        ({"type": "nope"}, "source.type"),
        ("sql", "source"),
    ],
)
def test_bad_configs_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_source(raw)
    assert info.value.field == field, str(info.value)


def test_dsn_env_must_be_a_variable_name() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_source({"type": "sql", "sql": "select 1", "dsn_env": "$DB"})
    assert "environment variable name" in info.value.message


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        validate_source({"type": "nope"})
    assert "demo" in info.value.message and "sql" in info.value.message


def test_validate_source_normalises() -> None:
    assert validate_source({"type": "http", "url": "https://api.example.com/x"}) == {
        "type": "http",
        "timeout_seconds": 10.0,
        "url": "https://api.example.com/x",
        "method": "GET",
        "body": None,
        "headers": {},
    }


def test_build_source_round_trips_the_stored_form() -> None:
    stored = validate_source({"type": "demo", "values": [1, "2.5"]})
    source = build_source(stored)
    assert isinstance(source, DemoSource)
    with pytest.raises(InvalidInput) as info:
        build_source({"type": "demo", "values": "nope"})
    assert info.value.field == "source.values"


def test_demo_is_deterministic_and_cycles() -> None:
    source = {"type": "demo", "values": [1, "2.5", "3.0", -4]}
    got = [fetch(source, n) for n in range(9)]
    assert got == [1, 2.5, 3, -4, 1, 2.5, 3, -4, 1]
    assert [type(v) for v in got[:4]] == [int, float, int, int]
    assert got == [fetch(source, n) for n in range(9)]


def test_demo_default_series() -> None:
    assert [fetch({"type": "demo"}, n) for n in range(10)] == [2, 3, 4, 5, 6, 7, 8, 4, 3, 2]


def test_push_is_never_fetched() -> None:
    assert SOURCES["push"].scheduled is False
    with pytest.raises(SourceError, match="push metrics receive values; they are not fetched"):
        fetch({"type": "push"})


# --- plugins -----------------------------------------------------------------------------


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    saved = dict(SOURCES)
    monkeypatch.setattr(base, "_plugins_loaded", False)
    yield
    SOURCES.clear()
    SOURCES.update(saved)


PLUGINS = [
    _ep("constant", "tests_sources_plugin_mod:MySource"),
    _ep("broken-import", "tests_sources_no_such_module:Thing"),
    _ep("not-a-source", "tests_sources_plugin_mod:NotASource"),
    _ep("abstract", "tests_sources_plugin_mod:Unfinished"),
    _ep("shadow", "tests_sources_plugin_mod:ShadowsSql"),
]


def test_plugins_load_lazily_from_the_entry_point_group(
    fresh_registry: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    groups: list[str] = []

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        groups.append(group)
        return PLUGINS

    monkeypatch.setattr(base, "entry_points", fake_entry_points)
    assert "constant" not in SOURCES
    with caplog.at_level(logging.WARNING, logger=base.__name__):
        assert validate_source({"type": "constant", "value": 5}) == {
            "type": "constant",
            "timeout_seconds": 30.0,
            "value": 5,
        }
    assert groups == ["tocsin.sources"]
    assert fetch({"type": "constant", "value": 5}) == 5
    # Broken plugins are skipped with a log line each; built-ins stay untouched.
    logged = caplog.text
    for name in ("broken-import", "not-a-source", "abstract", "shadow"):
        assert name in logged
    assert "bogus" not in SOURCES and "unfinished" not in SOURCES
    assert SOURCES["sql"].__module__ == "tocsin.metrics.sources.sql"
    # Loaded once: later uses do not scan the entry points again.
    validate_source({"type": "demo"})
    build_source({"type": "constant", "value": 1})
    assert groups == ["tocsin.sources"]


def test_plugin_config_errors_name_the_field(fresh_registry: None) -> None:
    assert load_plugins(lambda: PLUGINS[:1], force=True) == ["constant"]
    with pytest.raises(InvalidInput) as info:
        validate_source({"type": "constant", "value": "many"})
    assert info.value.field == "source.value"
