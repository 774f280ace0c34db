"""A metric's fields from what a person typed: a source, a schedule (``5m`` or a cron),
a selector. ``metric create`` / ``metric update`` and the web form build through here.

Errors name the input (``every``, ``dsn_credential``, ``headers``; ``metric`` for the
whole of an update) or, past this builder, the stored field (``schedule.cron``). Each
edge maps them to its own names: the CLI to its flags (``--every``), the form to its
fields. Where a message names another input, ``spell`` writes it the edge's way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tocsin.durations import parse_duration
from tocsin.errors import InvalidInput
from tocsin.metrics.model import Metric


def parse_pairs(pairs: Sequence[str], field: str, example: str = "") -> dict[str, str]:
    """``NAME=VALUE`` texts (headers, labels) as a mapping; errors name ``field``."""
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(field, f"{pair!r}: expected NAME=VALUE{example}")
        found[key.strip()] = value
    return found


def parse_headers(pairs: list[str]) -> dict[str, str]:
    return parse_pairs(pairs, "headers")


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
    series_by: list[str] | None = None,
    spell: Callable[[str], str],
) -> dict[str, Any]:
    src: dict[str, Any] = {"type": source}
    if source == "sql":
        if (dsn_credential is None) == (dsn_env is None):
            raise InvalidInput(
                "dsn_credential",
                "expected the name of a credential holding the database URL "
                f"(`tocsin credential set SHOP_DB`), or {spell('dsn_env')}, exactly one",
            )
        src |= {"sql": sql}
        src |= {"dsn_credential": dsn_credential} if dsn_credential else {"dsn_env": dsn_env}
    elif source == "http":
        src |= {"url": url, "headers": parse_headers(headers)}
        if method:
            src["method"] = method.upper()
    for given, value, allowed in (
        ("sql", sql, "sql"),
        ("dsn_env", dsn_env, "sql"),
        ("dsn_credential", dsn_credential, "sql"),
        ("url", url, "http"),
        ("method", method, "http"),
    ):
        if value is not None and source != allowed:
            raise InvalidInput(given, f"applies to {spell('source')} {allowed} only")
    if headers and source != "http":
        raise InvalidInput("headers", f"applies to {spell('source')} http only")
    if every and cron:
        raise InvalidInput("every", _one_schedule(spell))
    schedule: dict[str, Any] | None = None
    if every:
        schedule = {"every_seconds": _seconds(every)}
    elif cron:
        schedule = {"cron": cron, "timezone": timezone or "UTC"}
    elif timezone:
        raise InvalidInput("timezone", f"applies to {spell('cron')} schedules only")
    selector: dict[str, Any] | None = None
    if json_path or column or row or series_by:
        selector = {"json_path": json_path, "column": column, "row": row or "first"}
        if series_by:
            selector["series_by"] = series_by
    return {
        "name": name,
        "description": description,
        "source": src,
        "selector": selector,
        "schedule": schedule,
    }


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
    spell: Callable[[str], str],
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
        raise InvalidInput("every", _one_schedule(spell))
    if every:
        changes["schedule"] = {"every_seconds": _seconds(every)}
    elif cron:
        changes["schedule"] = {"cron": cron, "timezone": timezone or "UTC"}
    elif timezone:
        raise InvalidInput("timezone", f"applies together with {spell('cron')}")
    for key, value in (("name", name), ("description", description), ("enabled", enabled)):
        if value is not None:
            changes[key] = value
    if not changes:
        raise InvalidInput(
            "metric", f"nothing to change: give at least one option, e.g. {spell('every')} 5m"
        )
    return changes


def _one_schedule(spell: Callable[[str], str]) -> str:
    return f"give either {spell('every')} or {spell('cron')}, not both"


def _seconds(every: str) -> int:
    try:
        return parse_duration(every)
    except ValueError as exc:
        raise InvalidInput("every", str(exc)) from None
