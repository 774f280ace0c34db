"""Response bodies of the REST API: the ``.public()`` shapes, documented with examples.

Routes send the ``.public()`` dicts as they are (no second serialisation); these models
only describe them in ``/openapi.json``, and the schemathesis test proves the two agree.
(They live beside the routers because ``api/schemas.py`` holds the request bodies.)
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tocsin.alerts.actions.base import NotificationKind
from tocsin.alerts.decision import (
    ChangeMode,
    ComparisonOp,
    ConditionType,
    ErrorHandling,
    NoDataHandling,
)
from tocsin.alerts.decision import State as AlertState
from tocsin.api.openapi_examples import keep_nulls
from tocsin.api.routes.examples import (
    ALERT_EXAMPLE,
    CURSOR_EXAMPLE,
    DELIVERY_EXAMPLE,
    EXECUTION_EXAMPLE,
    HISTORY_EXAMPLE,
    METRIC_EXAMPLE,
    SERIES_EXAMPLE,
)
from tocsin.api.schemas import T0
from tocsin.metrics.model import RunStatus


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FieldError(Out):
    field: str
    message: str


class ValidationErrorOut(Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {"field": "threshold_value", "message": "required field is missing"},
                        {"field": "colour", "message": "unknown field"},
                    ]
                }
            ]
        }
    )
    detail: list[FieldError]


class ErrorOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "alert 'x' not found"}]})
    detail: str


class MetricOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [METRIC_EXAMPLE]})
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    source: dict[str, Any]
    selector: dict[str, Any] | None
    schedule: dict[str, Any] | None
    enabled: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    expect_every_seconds: int | None = Field(
        description="How often a value must arrive; after that plus 10% with none, a "
        "`missing` run is recorded and evaluated as no data. Null: not watched.",
    )
    warnings: list[str] | None = Field(
        default=None,
        description="Only when something saved may fail later, e.g. a slack-channel action "
        "without TOCSIN_SLACK_BOT_TOKEN on the server.",
    )


class ExecutionOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [EXECUTION_EXAMPLE]})
    id: uuid.UUID
    metric_id: uuid.UUID
    status: RunStatus
    trigger: Literal["schedule", "manual", "push"]
    scheduled_for: datetime | None
    started_at: datetime
    completed_at: datetime | None
    result: Any
    value: float | None
    error: str | None


class AlertOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [ALERT_EXAMPLE]})
    id: uuid.UUID
    org_id: uuid.UUID
    metric_id: uuid.UUID
    name: str
    description: str
    condition_type: ConditionType
    comparison_op: ComparisonOp
    threshold_value: float
    change_mode: ChangeMode
    lookback: int
    action_config: dict[str, Any] | list[dict[str, Any]]
    enabled: bool
    cooldown_seconds: int
    pending_evaluations: int
    notify_on_resolve: bool
    muted_until: datetime | None
    drop_resolve_when_muted: bool = False
    on_no_data: NoDataHandling = "no_data"
    on_error: ErrorHandling = "error"
    failure_notice: bool = True
    repeat_every_seconds: int | None = None
    recovery_op: ComparisonOp | None = None
    recovery_threshold: float | None = None
    recover_from: Literal["run", "episode"] = "run"
    for_seconds: int = 0
    keep_firing_seconds: int = 0
    state: AlertState
    last_triggered_at: datetime | None
    last_evaluated_at: datetime | None
    last_value: float | None
    created_at: datetime
    updated_at: datetime
    series_by: list[str] = Field(default=[], description="The metric's label columns.")
    series_filter: list[str] = Field(default=[], description='Matchers, e.g. "service!=batch".')
    resolve_missing_after: int = 2
    series_count: int = 0
    series_states: dict[str, int] = Field(default={}, description='e.g. {"ok": 10, "triggered": 2}')
    warnings: list[str] | None = Field(
        default=None,
        description="Only when something saved may fail later, e.g. a slack-channel action "
        "without TOCSIN_SLACK_BOT_TOKEN on the server.",
    )


class HistoryOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [HISTORY_EXAMPLE]})
    id: uuid.UUID
    alert_id: uuid.UUID
    execution_id: uuid.UUID | None
    evaluated_at: datetime
    value: float | None
    baseline_value: float | None
    triggered: bool
    state_from: AlertState
    state_to: AlertState
    notified: bool
    reason: str
    series_id: uuid.UUID | None = None
    labels: dict[str, str] | None = None


# Neither null nor absent where a route's answer has a value: /openapi.json drops nulls.


class DeliveryOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [DELIVERY_EXAMPLE]})
    id: uuid.UUID
    alert_id: uuid.UUID
    history_id: uuid.UUID | None
    kind: NotificationKind
    action: dict[str, Any]
    status: Literal["pending", "sent", "failed", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None
    duration_ms: int | None
    idempotency_key: str
    created_at: datetime
    sent_at: datetime | None
    channel: str | None
    series_id: uuid.UUID | None = None
    labels: dict[str, str] | None = None


class SeriesOut(Out):
    id: uuid.UUID
    alert_id: uuid.UUID
    labels: dict[str, str]
    state: AlertState
    last_value: float | None
    last_evaluated_at: datetime | None
    last_triggered_at: datetime | None
    last_seen_at: datetime | None
    consecutive_breaches: int


class RunReportOut(Out):
    """What ``tocsin metric run --json`` prints."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "execution": EXECUTION_EXAMPLE,
                    "evaluations": [HISTORY_EXAMPLE],
                    "deliveries": [DELIVERY_EXAMPLE],
                }
            ]
        }
    )
    execution: ExecutionOut
    evaluations: list[HistoryOut]
    deliveries: list[DeliveryOut]


_CURSOR = Field(description="Pass as `cursor` for the next page; null on the last page.")
# An opaque cursor, as a page that is not the last answers.


def _page(item: dict[str, Any], cursor: str | None = None) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [{"items": [item], "next_cursor": cursor}]})


class SeriesPage(Out):
    model_config = _page(SERIES_EXAMPLE)
    items: list[SeriesOut]
    next_cursor: str | None = _CURSOR


class MetricPage(Out):
    model_config = _page(METRIC_EXAMPLE)
    items: list[MetricOut]
    next_cursor: str | None = _CURSOR


class ExecutionPage(Out):
    model_config = _page(EXECUTION_EXAMPLE)
    items: list[ExecutionOut]
    next_cursor: str | None = _CURSOR


class AlertPage(Out):
    model_config = _page(ALERT_EXAMPLE)
    items: list[AlertOut]
    next_cursor: str | None = _CURSOR


class HistoryPage(Out):
    model_config = _page(HISTORY_EXAMPLE)
    items: list[HistoryOut]
    next_cursor: str | None = _CURSOR


class DeliveryPage(Out):
    model_config = _page(DELIVERY_EXAMPLE, CURSOR_EXAMPLE)
    items: list[DeliveryOut]
    next_cursor: str | None = _CURSOR


class MetricDeleted(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleted": METRIC_EXAMPLE}]})
    deleted: MetricOut


class AlertDeleted(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleted": ALERT_EXAMPLE}]})
    deleted: AlertOut


# What the offline planner answers to {"message": "Notify me if Open Issues > 5"} once the
# metric has a value; the planner's shape, which no model here pins down.


def answer_example(value: Any, status: int = 200) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route whose answer model has no example of its own (a list, a
    free-form dict) or whose answer differs from the model's example."""
    return {status: {"content": {"application/json": {"example": keep_nulls(value)}}}}


class DatabaseHealth(Out):
    ok: bool
    error: str | None = None


class DeliveryHealth(Out):
    pending: int | None
    oldest_pending_age_seconds: float | None


class HealthOut(Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "database": {"ok": True, "error": None},
                    "runner": {
                        "kind": "embedded",
                        "alive": True,
                        "started_at": T0,
                        "last_tick_at": T0,
                        "runs": 0,
                        "in_flight": 0,
                        "errors": 0,
                        "last_error": None,
                        "backing_off": False,
                    },
                    "deliveries": {"pending": 0, "oldest_pending_age_seconds": None},
                }
            ]
        }
    )
    status: Literal["ok", "degraded", "down"]
    database: DatabaseHealth
    runner: dict[str, Any]
    deliveries: DeliveryHealth
