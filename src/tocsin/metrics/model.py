"""Metric definitions as users give them, metrics and their runs as Tocsin shows them,
and the value a run yields."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.durations import format_duration
from tocsin.metrics.extract import Extracted, ValueSelector, extract_value
from tocsin.metrics.schedule import Schedule
from tocsin.metrics.sealing import is_secret_header
from tocsin.metrics.series import SeriesSet, extract_series
from tocsin.metrics.sources import validate_source
from tocsin.numbers import json_number

MAX_NAME = 200
REDACTED = "***redacted***"
# The dead-man switch's period (``expect_every``): from the runtimes' one-second tick to
# a year, as every edge accepts it.
MIN_EXPECT_EVERY_SECONDS = 1
MAX_EXPECT_EVERY_SECONDS = 366 * 86400
EXPECT_EVERY_LIMITS = "expected a period between 1s and 366d, e.g. 10m (or off)"


class MetricDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=5000)
    source: dict[str, Any]
    selector: ValueSelector | None = None
    schedule: Schedule | None = None
    enabled: bool = True
    # How often a value must arrive; None: silence is not watched.
    expect_every_seconds: int | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("expected a non-empty name")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: dict[str, Any]) -> dict[str, Any]:
        return validate_source(value)

    @field_validator("expect_every_seconds")
    @classmethod
    def _expect_every(cls, value: int | None) -> int | None:
        if value is not None and not MIN_EXPECT_EVERY_SECONDS <= value <= MAX_EXPECT_EVERY_SECONDS:
            raise ValueError(EXPECT_EVERY_LIMITS)
        return value


class Metric(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    source: dict[str, Any]
    selector: ValueSelector | None
    schedule: Schedule | None
    enabled: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    expect_every_seconds: int | None = None

    def public(self) -> dict[str, Any]:
        """The contract's JSON shape, with secrets redacted."""
        data = self.model_dump(mode="json")
        data["source"] = redact_source(self.source)
        data["selector"] = self.selector.model_dump(exclude_none=True) if self.selector else None
        data["schedule"] = self.schedule.model_dump(exclude_none=True) if self.schedule else None
        return data


def redact_source(source: dict[str, Any]) -> dict[str, Any]:
    out = dict(source)
    headers = out.get("headers")
    if isinstance(headers, dict):
        # A header that names a variable is safe to show; a literal may be a token.
        out["headers"] = {k: REDACTED if is_secret_header(v) else v for k, v in headers.items()}
    return out


# What started a run, and where it is: one vocabulary for the store, the runtimes, the API.
Trigger = Literal["schedule", "manual", "push"]
# ``missing``: no value arrived within the metric's ``expect_every`` (execution/silence.py).
RunStatus = Literal["running", "completed", "failed", "timed_out", "missing"]


def silence_grace(period_seconds: int) -> timedelta:
    """How long after the last value a ``missing`` run is due: the period plus a tenth,
    so a value that is only a little late is not missing."""
    return timedelta(seconds=period_seconds * 1.1)


def missing_reason(period_seconds: int) -> str:
    """The reason a ``missing`` run records, and its alerts' no data shows."""
    return f"no value received for {format_duration(period_seconds)}"


class Execution(BaseModel):
    id: uuid.UUID
    metric_id: uuid.UUID
    org_id: uuid.UUID
    status: RunStatus
    trigger: Trigger
    scheduled_for: datetime | None
    started_at: datetime
    completed_at: datetime | None
    result: Any
    value: Decimal | None
    error: str | None
    evaluated_at: datetime | None = None

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"org_id", "evaluated_at"})
        data["value"] = json_number(self.value)
        return data


def observe(execution: Execution, selector: ValueSelector | None) -> Extracted:
    """The value an execution yields for its alerts."""
    if execution.status == "missing":
        # Silence is no data (not an error of the source), with the reason recorded.
        return Extracted("no_data", None, execution.error or "no value received")
    if execution.status != "completed":
        what = "timed out" if execution.status == "timed_out" else "failed"
        return Extracted("error", None, f"execution {what}: {execution.error or 'no detail'}")
    return extract_value(execution.result, selector, at=execution.completed_at)


def observe_series(execution: Execution, selector: ValueSelector | None) -> SeriesSet:
    """The series an execution yields for its alerts: the one series ``{}`` of a metric
    without series; for a run that failed, its error for every series (for a ``missing``
    run, its no data)."""
    if execution.status != "completed":
        return SeriesSet([], observe(execution, selector))
    return extract_series(execution.result, selector, at=execution.completed_at)
