"""Metric definitions as users give them, metrics and their runs as Tocsin shows them,
and the value a run yields."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tocsin.metrics.extract import Extracted, ValueSelector, extract_value
from tocsin.metrics.schedule import Schedule
from tocsin.metrics.sealing import is_secret_header
from tocsin.metrics.series import SeriesSet, extract_series
from tocsin.metrics.sources import validate_source
from tocsin.numbers import json_number

MAX_NAME = 200
REDACTED = "***redacted***"


class MetricDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=5000)
    source: dict[str, Any]
    selector: ValueSelector | None = None
    schedule: Schedule | None = None
    enabled: bool = True

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
RunStatus = Literal["running", "completed", "failed", "timed_out"]


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
    if execution.status != "completed":
        what = "timed out" if execution.status == "timed_out" else "failed"
        return Extracted("error", None, f"execution {what}: {execution.error or 'no detail'}")
    return extract_value(execution.result, selector, at=execution.completed_at)


def observe_series(execution: Execution, selector: ValueSelector | None) -> SeriesSet:
    """The series an execution yields for its alerts: the one series ``{}`` of a metric
    without series; for a run that failed, its error for every series."""
    if execution.status != "completed":
        return SeriesSet([], observe(execution, selector))
    return extract_series(execution.result, selector, at=execution.completed_at)
