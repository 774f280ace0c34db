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
    fresh_column: str | None = None,
    fresh_path: str | None = None,
    max_age: str | None = None,
    expect_every: str | None = None,
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
    fresh = _fresh_fields(fresh_column, fresh_path, max_age_seconds(max_age), spell)
    if fresh:
        selector = (selector or {}) | fresh
    return {
        "name": name,
        "description": description,
        "source": src,
        "selector": selector,
        "schedule": schedule,
        "expect_every_seconds": expect_every_seconds(expect_every),
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
    max_age: str | None = None,
    expect_every: str | None = None,
    spell: Callable[[str], str],
) -> dict[str, Any]:
    """The fields ``metric update``'s options change (merged onto the stored ones);
    ``expect_every`` ``off`` turns the dead-man switch off."""
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
    if max_age is not None or any(k in given_selector for k in FRESH_FIELDS):
        base = changes.get("selector")
        if base is None:
            base = current.selector.model_dump(exclude_none=True) if current.selector else {}
        fresh = _with_freshness(base, given_selector, max_age, spell)
        if fresh != base:  # "off" on a metric without freshness changes nothing
            changes["selector"] = fresh
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
    if expect_every is not None:
        changes["expect_every_seconds"] = expect_every_seconds(expect_every)
    if not changes:
        raise InvalidInput(
            "metric", f"nothing to change: give at least one option, e.g. {spell('every')} 5m"
        )
    return changes


def expect_every_seconds(text: str | None) -> int | None:
    """The dead-man switch's period as typed (``10m``; ``off`` or nothing: none). Its
    limits are the model's (``MetricDefinition``), which names ``0`` as out of them."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidInput("expect_every", f"{exc}, or off") from None


# The selector's freshness fields (metrics/freshness.py).
FRESH_FIELDS = ("fresh_column", "fresh_path", "max_age_seconds")


def max_age_seconds(text: str | None) -> int | None:
    """``max_age`` as typed (``1h``); ``off`` or nothing: none."""
    if text is None or text.strip().lower() in ("", "off", "none"):
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput("max_age", f"{exc}, or off") from None
    if seconds <= 0:
        raise InvalidInput("max_age", "expected a positive duration such as 1h, or off")
    return seconds


def _fresh_fields(
    column: str | None, path: str | None, seconds: int | None, spell: Callable[[str], str]
) -> dict[str, Any]:
    """The freshness fields of a selector, refused here with the edge's names: the model
    would name its stored fields (``selector.max_age_seconds``)."""
    if column is not None and path is not None:
        raise InvalidInput(
            "fresh_column",
            f"give either {spell('fresh_column')} (a table's column) or {spell('fresh_path')} "
            "(a JSONPath), not both",
        )
    timed = "fresh_column" if column is not None else "fresh_path" if path is not None else None
    if timed is not None and seconds is None:
        raise InvalidInput(
            "max_age",
            f"expected how old the newest timestamp may be, e.g. {spell('max_age')} 1h, "
            f"with {spell(timed)}",
        )
    if timed is None and seconds is not None:
        raise InvalidInput(
            "max_age",
            f"applies with {spell('fresh_column')} or {spell('fresh_path')}: the timestamp "
            "whose age it limits",
        )
    found = {"fresh_column": column, "fresh_path": path, "max_age_seconds": seconds}
    return {k: v for k, v in found.items() if v is not None}


def _with_freshness(
    selector: dict[str, Any],
    given: dict[str, Any],
    max_age: str | None,
    spell: Callable[[str], str],
) -> dict[str, Any]:
    """An update's freshness merged onto the selector: naming a fresh column replaces a
    stored fresh path and the other way round; ``max_age`` ``off`` drops all three."""
    seconds = max_age_seconds(max_age)
    column, path = given.get("fresh_column"), given.get("fresh_path")
    out = {k: v for k, v in selector.items() if k not in FRESH_FIELDS}
    if max_age is not None and seconds is None:
        if column is not None or path is not None:
            raise InvalidInput(
                "max_age",
                f"off turns freshness off: give it without {spell('fresh_column')} "
                f"or {spell('fresh_path')}",
            )
        return out
    if column is None and path is None:
        # Neither named: the stored one stays, only its age limit changes.
        column, path = selector.get("fresh_column"), selector.get("fresh_path")
    if seconds is None:
        seconds = selector.get("max_age_seconds")
    return out | _fresh_fields(column, path, seconds, spell)


def _one_schedule(spell: Callable[[str], str]) -> str:
    return f"give either {spell('every')} or {spell('cron')}, not both"


def _seconds(every: str) -> int:
    try:
        return parse_duration(every)
    except ValueError as exc:
        raise InvalidInput("every", str(exc)) from None
