"""Human output in words: schedules, sources and actions as a person would say them,
never a Python dict (secrets are hidden as the API hides them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.alerts.actions import REDACTED, redact_action
from tocsin.durations import format_duration
from tocsin.metrics.model import redact_source


def schedule_words(schedule: Mapping[str, Any] | None) -> str:
    if not schedule:
        return "none (values are pushed)"
    if schedule.get("every_seconds"):
        return f"every {format_duration(int(schedule['every_seconds']))}"
    return f"cron {schedule.get('cron')} ({schedule.get('timezone') or 'UTC'})"


def expect_words(expect_every_seconds: int | None) -> str:
    """The dead-man switch in words (``metric show``)."""
    if expect_every_seconds is None:
        return "off (silence is not watched)"
    return f"a value every {format_duration(expect_every_seconds)}, else a missing run"


def source_words(source: Mapping[str, Any]) -> str:
    shown = redact_source(dict(source))
    kind = shown.get("type")
    if kind == "sql":
        if shown.get("dsn_credential"):
            where = f"credential {shown['dsn_credential']}"
        else:
            where = f"variable {shown.get('dsn_env')}"
        return f"sql on {where}: {' '.join(str(shown.get('sql', '')).split())}"
    if kind == "http":
        headers = ", ".join(f"{k}: {v}" for k, v in (shown.get("headers") or {}).items())
        return f"http {shown.get('method', 'GET')} {shown.get('url')}" + (
            f" (headers {headers})" if headers else ""
        )
    return str(kind)


def action_words(action: Mapping[str, Any]) -> str:
    shown = redact_action(action)
    kind = str(shown.get("type"))
    detail, hidden = [], []
    for key, value in shown.items():
        if key == "type" or value in (None, "", {}, []):
            continue
        if value == REDACTED or isinstance(value, Mapping):
            hidden.append(key)
        else:
            detail.append(str(value))
    if hidden:
        detail.append(f"({', '.join(hidden)} hidden)")
    return " ".join([kind, *detail])


def actions_words(config: Any) -> str:
    actions = config if isinstance(config, list) else [config]
    return "; ".join(action_words(a) for a in actions if isinstance(a, Mapping)) or "none"
