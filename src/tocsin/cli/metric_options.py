"""The options ``metric create`` and ``metric update`` take, read into metric fields.

Errors name the flag (``--every``), as everywhere in the CLI; the web form reuses the
builder and maps the flags back to its own field names."""

from __future__ import annotations

from typing import Any

from tocsin.durations import parse_duration
from tocsin.errors import InvalidInput
from tocsin.metrics.model import Metric


def parse_headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("--header", f"{pair!r}: expected NAME=VALUE")
        headers[key.strip()] = value
    return headers


def build_definition(
    name: str,
    source: str,
    *,
    sql: str | None,
    dsn_env: str | None,
    url: str | None,
    method: str | None,
    json_path: str | None,
    column: str | None,
    row: str | None,
    headers: list[str],
    every: str | None,
    cron: str | None,
    timezone: str | None,
    description: str,
    dsn_credential: str | None = None,
) -> dict[str, Any]:
    src: dict[str, Any] = {"type": source}
    if source == "sql":
        if (dsn_credential is None) == (dsn_env is None):
            raise InvalidInput(
                "--dsn-credential",
                "expected the name of a credential holding the database URL "
                "(`tocsin credential set SHOP_DB`), or --dsn-env, exactly one",
            )
        src |= {"sql": sql}
        src |= {"dsn_credential": dsn_credential} if dsn_credential else {"dsn_env": dsn_env}
    elif source == "http":
        src |= {"url": url, "headers": parse_headers(headers)}
        if method:
            src["method"] = method.upper()
    for flag, value, allowed in (
        ("--sql", sql, "sql"),
        ("--dsn-env", dsn_env, "sql"),
        ("--dsn-credential", dsn_credential, "sql"),
        ("--url", url, "http"),
        ("--method", method, "http"),
    ):
        if value is not None and source != allowed:
            raise InvalidInput(flag, f"applies to --source {allowed} only")
    if headers and source != "http":
        raise InvalidInput("--header", "applies to --source http only")
    if every and cron:
        raise InvalidInput("--every", "give either --every or --cron, not both")
    schedule: dict[str, Any] | None = None
    if every:
        try:
            schedule = {"every_seconds": parse_duration(every)}
        except ValueError as exc:
            raise InvalidInput("--every", str(exc)) from None
    elif cron:
        schedule = {"cron": cron, "timezone": timezone or "UTC"}
    elif timezone:
        raise InvalidInput("--timezone", "applies to --cron schedules only")
    selector: dict[str, Any] | None = None
    if json_path or column or row:
        selector = {"json_path": json_path, "column": column, "row": row or "first"}
    return {
        "name": name,
        "description": description,
        "source": src,
        "selector": selector,
        "schedule": schedule,
    }


FLAG_NAMES = {
    "source.sql": "--sql",
    "source.dsn_env": "--dsn-env",
    "source.dsn_credential": "--dsn-credential",
    "source.url": "--url",
    "source.type": "--source",
    "selector.json_path": "--json-path",
    "selector.column": "--column",
    "selector.row": "--row",
    "schedule.cron": "--cron",
    "schedule.timezone": "--timezone",
    "schedule.every_seconds": "--every",
    "name": "NAME",
    "value": "--value",
}


def flagged(exc: InvalidInput) -> InvalidInput:
    """Name the CLI flag, not the stored field, in messages for CLI users."""
    errors = [
        ("--header" if f.startswith("source.headers") else FLAG_NAMES.get(f, f), m)
        for f, m in exc.errors
    ]
    return InvalidInput(errors[0][0], errors[0][1], more=errors[1:])


def metric_changes(
    current: Metric,
    *,
    name: str | None,
    source: dict[str, Any],
    selector: dict[str, Any],
    every: str | None,
    cron: str | None,
    timezone: str | None,
    enabled: bool | None,
    description: str | None,
) -> dict[str, Any]:
    """The fields ``metric update``'s options change (merged onto the stored ones)."""
    changes: dict[str, Any] = {}
    given_source = {k: v for k, v in source.items() if v is not None}
    if given_source:
        merged = dict(current.source) | given_source
        # One URL reference: naming one replaces the other.
        for chosen, other in (("dsn_credential", "dsn_env"), ("dsn_env", "dsn_credential")):
            if chosen in given_source:
                merged.pop(other, None)
        changes["source"] = merged
    given_selector = {k: v for k, v in selector.items() if v is not None}
    if given_selector:
        stored = current.selector.model_dump(exclude_none=True) if current.selector else {}
        changes["selector"] = stored | given_selector
    if every and cron:
        raise InvalidInput("--every", "give either --every or --cron, not both")
    if every:
        try:
            changes["schedule"] = {"every_seconds": parse_duration(every)}
        except ValueError as exc:
            raise InvalidInput("--every", str(exc)) from None
    elif cron:
        changes["schedule"] = {"cron": cron, "timezone": timezone or "UTC"}
    elif timezone:
        raise InvalidInput("--timezone", "applies together with --cron")
    for key, value in (("name", name), ("description", description), ("enabled", enabled)):
        if value is not None:
            changes[key] = value
    if not changes:
        raise InvalidInput("METRIC", "nothing to change: give at least one option, e.g. --every 5m")
    return changes
