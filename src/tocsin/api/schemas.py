"""Request and response bodies of the REST API, with the examples ``/openapi.json`` shows.

Request models are the API's first line of checks (types, sizes, unknown fields); the
stores validate again as a whole, so both paths (CLI and API) keep one set of rules.
The response models are in ``tocsin.api.routes.responses``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from tocsin.alerts.decision import (
    ChangeMode,
    ComparisonOp,
    ConditionType,
    ErrorHandling,
    NoDataHandling,
)
from tocsin.alerts.matchers import MAX_MATCHERS
from tocsin.alerts.model import (
    MAX_COOLDOWN,
    MAX_DESCRIPTION,
    MAX_DURATION,
    MAX_LOOKBACK,
    MAX_MISSING_RUNS,
    MAX_NAME,
    MAX_PENDING,
    MAX_REPEAT,
    THRESHOLD_DIGITS,
    THRESHOLD_PLACES,
    threshold_number,
)
from tocsin.alerts.recovery import RecoverFrom
from tocsin.durations import MAX_MUTE_SECONDS
from tocsin.metrics.extract import ValueSelector
from tocsin.metrics.model import MAX_EXPECT_EVERY_SECONDS, MIN_EXPECT_EVERY_SECONDS
from tocsin.metrics.schedule import Schedule

MAX_CONFIG_BYTES = 16 * 1024
MAX_VALUE_BYTES = 32 * 1024
MAX_LABELS = 20
MAX_ACTIONS = 20
MAX_EXPONENT = 1000
MAX_DIGITS = 1000
THRESHOLD_LIMITS = (
    f"At most {THRESHOLD_DIGITS} digits and {THRESHOLD_PLACES} decimal places, "
    "between -1e15 and 1e15."
)


T0 = "2026-01-05T09:30:00Z"
METRIC_ID = "0b6f3e43-54a3-4c53-9d0e-6a3f4cf0a1d2"
ALERT_ID = "5d3c2a10-8f0e-4a8e-b5a9-3c1f9e2d7b44"
ORG_ID = "9a4e1c77-2b1d-4f5e-8c3a-0d9b8e7f6a51"
EXECUTION_ID = "c2f0a9b8-7d6e-4c5b-a493-82716f5e4d3c"
HISTORY_ID = "e8d7c6b5-a493-4827-9160-5f4e3d2c1b0a"
SERIES_ID = "3e1f2a4b-6c7d-4e8f-9a0b-1c2d3e4f5a6b"
DELIVERY_ID = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"

WEBHOOK_ACTION: dict[str, Any] = {
    "type": "webhook",
    "url": "https://hooks.example.com/tocsin",
    "secret": "s3cr3t",
}
SHOWN_WEBHOOK_ACTION: dict[str, Any] = {
    "type": "webhook",
    "url": "https://hooks.example.com/***",
    "secret": "***redacted***",
}


def json_size(value: Any, field: str, limit: int) -> None:
    if len(json.dumps(value, default=str)) > limit:
        raise ValueError(f"expected at most {limit // 1024} KiB of JSON in {field}")


def check_numbers(value: Any) -> None:
    """Refuse numbers (and numeric strings) no database column can hold: PostgreSQL's
    NUMERIC overflows, and Python will not print integers of over 4300 digits."""
    stack = [value]
    while stack:  # iterative: a deeply nested value must not exhaust the stack
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int | float | str) and not isinstance(item, bool):
            try:
                number = Decimal(str(item).strip()) if isinstance(item, str) else Decimal(item)
            except InvalidOperation:
                continue
            if (
                number.is_finite()
                and number
                and not (
                    -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT
                    and len(number.as_tuple().digits) <= MAX_DIGITS
                )
            ):
                raise ValueError(
                    f"expected numbers of at most {MAX_DIGITS} digits, between "
                    f"1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in magnitude"
                )


def _check_actions(value: Any) -> Any:
    if isinstance(value, dict):
        items = [value]
    elif isinstance(value, list):
        items = value
        if not 1 <= len(items) <= MAX_ACTIONS:
            raise ValueError(f"expected 1 to {MAX_ACTIONS} actions")
    else:
        raise ValueError(
            'expected an action object such as {"type": "log"} or a list of action objects'
        )
    if not all(isinstance(a, dict) for a in items):
        raise ValueError('expected action objects such as {"type": "log"}')
    json_size(value, "action_config", MAX_CONFIG_BYTES)
    return value


def _check_threshold(value: Any) -> Decimal | None:
    # The alert model's own limits and words, before pydantic reads the number.
    return None if value is None else threshold_number(value)


def _patch_schema(
    nullable: frozenset[str], example: dict[str, Any]
) -> Callable[[dict[str, Any]], None]:
    """Show optional PATCH fields as optional, not as nullable (explicit nulls are refused
    except where null means something, e.g. ``muted_until``)."""

    def fix(schema: dict[str, Any]) -> None:
        for name, prop in schema.get("properties", {}).items():
            prop.pop("default", None)
            options = prop.get("anyOf")
            if name in nullable or not options:
                continue
            kept = [o for o in options if o.get("type") != "null"]
            prop.pop("anyOf")
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        schema["examples"] = [example]

    return fix


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("expected a value, not null (leave the field out to keep it)")
    return value


# Requests ---------------------------------------------------------------------


class MetricCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Open Issues", "source": {"type": "push"}},
                {
                    "name": "GitHub open issues",
                    "description": "Open issues of our main repository",
                    "source": {
                        "type": "http",
                        "url": "https://api.github.com/repos/acme/app",
                        "headers": {"Authorization": "Bearer ${cred:GITHUB_TOKEN}"},
                    },
                    "selector": {"json_path": "$.open_issues_count"},
                    "schedule": {"every_seconds": 300},
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    source: dict[str, Any] = Field(
        description="`type` (push, sql, http, demo) and its settings; secrets are named, "
        "never written here: a credential (`dsn_credential`, `${cred:NAME}` in a header) or "
        "an allowed ${ENV_VAR}."
    )
    selector: ValueSelector | None = None
    schedule: Schedule | None = Field(
        default=None, description="`{every_seconds}` or `{cron, timezone}`; none for push."
    )
    enabled: bool = True
    expect_every_seconds: int | None = Field(
        default=None,
        strict=True,  # a number of seconds: true is not 1
        ge=MIN_EXPECT_EVERY_SECONDS,
        le=MAX_EXPECT_EVERY_SECONDS,
        description="The dead-man switch: when no run completes within this many seconds "
        "plus 10%, a `missing` run is recorded and evaluated as no data.",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: dict[str, Any]) -> dict[str, Any]:
        json_size(value, "source", MAX_CONFIG_BYTES)
        return value


class MetricPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_patch_schema(
            frozenset({"selector", "schedule", "expect_every_seconds"}),
            {"description": "Open issues, all repositories"},
        ),
    )

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    source: dict[str, Any] | None = None
    selector: ValueSelector | None = None
    schedule: Schedule | None = None
    enabled: bool | None = None
    expect_every_seconds: int | None = Field(
        default=None,
        strict=True,  # a number of seconds: true is not 1
        ge=MIN_EXPECT_EVERY_SECONDS,
        le=MAX_EXPECT_EVERY_SECONDS,
        description="Seconds; null turns the dead-man switch off.",
    )

    _not_null = field_validator("name", "description", "source", "enabled", mode="before")(
        _refuse_null
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            json_size(value, "source", MAX_CONFIG_BYTES)
        return value


class AlertCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "metric_id": "Open Issues",
                    "name": "Notify if Issues > 5",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": WEBHOOK_ACTION,
                },
                {
                    "metric_id": "Signups",
                    "name": "Signups dropped 20%",
                    "condition_type": "relative_change",
                    "change_mode": "percent",
                    "comparison_op": "lt",
                    "threshold_value": -20,
                    "cooldown_seconds": 3600,
                    "action_config": [{"type": "slack", "channelId": "C0123"}, {"type": "log"}],
                },
            ]
        },
    )

    metric_id: str = Field(min_length=1, max_length=MAX_NAME, description="Metric ID or name.")
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    condition_type: ConditionType = "threshold"
    comparison_op: ComparisonOp
    threshold_value: Decimal = Field(description=THRESHOLD_LIMITS)
    change_mode: ChangeMode = "percent"
    lookback: int = Field(default=1, ge=1, le=MAX_LOOKBACK)
    action_config: dict[str, Any] | list[dict[str, Any]] = Field(
        description="One action object or a list: log, slack, webhook, email, pagerduty. "
        "Secrets are write-only: responses show them redacted."
    )
    enabled: bool = True
    cooldown_seconds: int = Field(default=3600, ge=0, le=MAX_COOLDOWN)
    pending_evaluations: int = Field(default=1, ge=1, le=MAX_PENDING)
    notify_on_resolve: bool = True
    muted_until: AwareDatetime | None = None
    series_filter: list[str] = Field(
        default=[],
        max_length=MAX_MATCHERS,
        description='Which series to watch: matchers such as "service!=batch" (=, !=, =~, !~).',
    )
    resolve_missing_after: int = Field(default=2, ge=1, le=MAX_MISSING_RUNS)
    drop_resolve_when_muted: bool = Field(
        default=False,
        description="Drop a resolve that comes due while the alert is muted (default: "
        "send it; whoever was told of the firing hears it is over).",
    )
    on_no_data: NoDataHandling = Field(
        default="no_data",
        description="What a run with no data means: its own state no_data (default), "
        "alerting (a breach), ok (clear) or keep_last (state unchanged).",
    )
    on_error: ErrorHandling = Field(
        default="error",
        description="What a failed run or unreadable value means: its own state error "
        "(default), alerting, ok or keep_last.",
    )
    repeat_every_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_REPEAT,
        description="Remind this often while a series stays triggered (null: never; 0: "
        "every breaching run); never more often than cooldown_seconds.",
    )
    recovery_op: ComparisonOp | None = Field(
        default=None,
        description="With recovery_threshold: a triggered series resolves only on a value "
        "where this holds (hysteresis, e.g. lt 4 for a > 5 alert). Null: when the "
        "condition no longer holds.",
    )
    recovery_threshold: Decimal | None = Field(default=None, description=THRESHOLD_LIMITS)
    for_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_DURATION,
        description="The condition must hold on every run for this long before it fires "
        "(beside pending_evaluations, counted in runs).",
    )
    keep_firing_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_DURATION,
        description="A firing series stays triggered this long after its condition stops holding.",
    )
    recover_from: RecoverFrom = Field(
        default="run",
        description="relative_change only: measure recovery from the previous run (run) or "
        "from the value before the episode began (episode).",
    )
    failure_notice: bool = Field(
        default=True,
        description="Notify (kind no_data / error) when a series stays unreadable for "
        "pending_evaluations runs, and again (recovered) when it reads again.",
    )

    _actions = field_validator("action_config", mode="before")(_check_actions)
    _threshold = field_validator("threshold_value", "recovery_threshold", mode="before")(
        _check_threshold
    )


class AlertPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_patch_schema(
            frozenset({"muted_until", "repeat_every_seconds", "recovery_op", "recovery_threshold"}),
            {"cooldown_seconds": 600, "action_config": SHOWN_WEBHOOK_ACTION},
        ),
    )

    metric_id: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    condition_type: ConditionType | None = None
    comparison_op: ComparisonOp | None = None
    threshold_value: Decimal | None = Field(default=None, description=THRESHOLD_LIMITS)
    change_mode: ChangeMode | None = None
    lookback: int | None = Field(default=None, ge=1, le=MAX_LOOKBACK)
    action_config: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None,
        description="A value shown as ***redacted*** may be sent back as it is: the "
        "stored secret is kept.",
    )
    enabled: bool | None = None
    cooldown_seconds: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN)
    pending_evaluations: int | None = Field(default=None, ge=1, le=MAX_PENDING)
    notify_on_resolve: bool | None = None
    muted_until: AwareDatetime | None = None
    series_filter: list[str] | None = Field(default=None, max_length=MAX_MATCHERS)
    resolve_missing_after: int | None = Field(default=None, ge=1, le=MAX_MISSING_RUNS)
    drop_resolve_when_muted: bool | None = None
    on_no_data: NoDataHandling | None = None
    on_error: ErrorHandling | None = None
    failure_notice: bool | None = None
    # null turns reminders off, so it is no "keep": absent keeps, null clears.
    repeat_every_seconds: int | None = Field(default=None, ge=0, le=MAX_REPEAT)
    # Null clears the recovery condition (both at once).
    recovery_op: ComparisonOp | None = None
    recovery_threshold: Decimal | None = Field(default=None, description=THRESHOLD_LIMITS)
    recover_from: RecoverFrom | None = None
    for_seconds: int | None = Field(default=None, ge=0, le=MAX_DURATION)
    keep_firing_seconds: int | None = Field(default=None, ge=0, le=MAX_DURATION)

    _not_null = field_validator(
        "metric_id",
        "name",
        "description",
        "condition_type",
        "comparison_op",
        "threshold_value",
        "change_mode",
        "lookback",
        "enabled",
        "cooldown_seconds",
        "pending_evaluations",
        "notify_on_resolve",
        "series_filter",
        "resolve_missing_after",
        "drop_resolve_when_muted",
        "on_no_data",
        "on_error",
        "failure_notice",
        "recover_from",
        "for_seconds",
        "keep_firing_seconds",
        mode="before",
    )(_refuse_null)
    _actions = field_validator("action_config", mode="before")(_check_actions)
    _threshold = field_validator("threshold_value", "recovery_threshold", mode="before")(
        _check_threshold
    )


class MuteIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"for_seconds": 3600}, {"until": "2026-01-05T14:00:00Z"}]},
    )

    for_seconds: int | None = Field(default=None, ge=1, le=MAX_MUTE_SECONDS)
    until: AwareDatetime | None = None


class ChatIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message": "Notify me if Open Issues > 5", "confirm": False},
                {"message": "Notify me on Slack if Open Issues > 5", "confirm": True},
            ]
        },
    )

    message: str = Field(min_length=1, max_length=2000)
    confirm: bool = False
    dry_run: bool = False
