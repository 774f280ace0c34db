"""Alert definitions as users give them, and alerts as Tocsin shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tocsin.alerts.actions import ActionConfigError, redact_action, validate_action_config
from tocsin.alerts.decision import (
    OP_SYMBOLS,
    ChangeMode,
    ComparisonOp,
    ConditionType,
    ErrorHandling,
    NoDataHandling,
    State,
)
from tocsin.alerts.matchers import MAX_MATCHERS, MatcherError, parse_filter
from tocsin.alerts.recovery import RecoverFrom
from tocsin.numbers import json_number

AlertState = State
SYMBOL_OPS: dict[str, str] = {v: k for k, v in OP_SYMBOLS.items()} | {"=": "eq", "<>": "ne"}
# Every limit of an alert's fields, declared here once; the API's request models and the
# CLI's and UI's validation (through AlertFields) all read them.
MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_COOLDOWN = 30 * 86400
MAX_LOOKBACK = 1000
MAX_PENDING = 1000
MAX_MISSING_RUNS = 1000
MAX_REPEAT = 30 * 86400
MAX_DURATION = 30 * 86400


# A threshold's limits, declared once: the CLI, the API, the UI and the chat planner all
# validate through threshold_number, so the same input gets the same answer everywhere.
THRESHOLD_DIGITS = 30
THRESHOLD_PLACES = 12
MAX_THRESHOLD = Decimal("1e15")


def threshold_number(value: Any) -> Decimal:
    """``value`` as an exact threshold, or ValueError saying what was expected."""
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    text = str(value).strip()
    if len(text) > 2 * THRESHOLD_DIGITS + 10:
        raise ValueError(
            f"too many digits: expected a number with at most {THRESHOLD_DIGITS} digits"
        )
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a number, got {text[:40]!r}") from None
    if number.is_infinite() and isinstance(value, float):
        # A JSON number beyond a float's range arrives as infinity.
        raise ValueError("out of range: expected a number between -1e15 and 1e15")
    if not number.is_finite():
        raise ValueError("expected a finite number")
    if abs(number) > MAX_THRESHOLD:
        raise ValueError("out of range: expected a number between -1e15 and 1e15")
    if number:
        # Trailing zeros say nothing (5.000 is 5); normalize() would round to 28 digits.
        _, digits, exponent = number.as_tuple()
        kept, places = len(digits), -int(exponent)
        while kept > 1 and places > 0 and digits[kept - 1] == 0:
            kept, places = kept - 1, places - 1
        if kept > THRESHOLD_DIGITS:
            raise ValueError(f"expected a number with at most {THRESHOLD_DIGITS} digits")
        if places > THRESHOLD_PLACES:
            raise ValueError(f"expected at most {THRESHOLD_PLACES} decimal places")
    return number


class AlertFields(BaseModel):
    """Fields a user may set; shared by creation and update."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    condition_type: ConditionType = "threshold"
    comparison_op: ComparisonOp
    threshold_value: Decimal
    change_mode: ChangeMode = "percent"
    lookback: int = Field(default=1, ge=1, le=MAX_LOOKBACK)
    # The seed's shape: one action object, or a list of them.
    action_config: dict[str, Any] | list[dict[str, Any]]
    enabled: bool = True
    cooldown_seconds: int = Field(default=3600, ge=0, le=MAX_COOLDOWN)
    pending_evaluations: int = Field(default=1, ge=1, le=MAX_PENDING)
    notify_on_resolve: bool = True
    muted_until: datetime | None = None
    # Which series of the metric the alert watches ("service!=batch"); all by default.
    series_filter: list[str] = Field(default_factory=list, max_length=MAX_MATCHERS)
    resolve_missing_after: int = Field(default=2, ge=1, le=MAX_MISSING_RUNS)
    # A resolve due while muted is sent, unless this drops it.
    drop_resolve_when_muted: bool = False
    # What an unreadable value means, and whether a broken source is told (docs/alerts.md).
    on_no_data: NoDataHandling = "no_data"
    on_error: ErrorHandling = "error"
    failure_notice: bool = True
    # Reminders while a series stays triggered (None: never; the cooldown bounds them).
    repeat_every_seconds: int | None = Field(default=None, ge=0, le=MAX_REPEAT)
    # When a triggered series resolves (alerts/recovery.py): a condition of its own, and
    # for a relative change what the change is measured from.
    recovery_op: ComparisonOp | None = None
    recovery_threshold: Decimal | None = None
    recover_from: RecoverFrom = "run"
    # Durations on run completion times (alerts/holding.py).
    for_seconds: int = Field(default=0, ge=0, le=MAX_DURATION)
    keep_firing_seconds: int = Field(default=0, ge=0, le=MAX_DURATION)

    @field_validator("recovery_threshold", mode="before")
    @classmethod
    def _recovery_threshold(cls, value: Any) -> Decimal | None:
        return None if value is None else threshold_number(value)

    @model_validator(mode="after")
    def _recovery_whole(self) -> AlertFields:
        if (self.recovery_op is None) != (self.recovery_threshold is None):
            missing = "recovery_threshold" if self.recovery_threshold is None else "recovery_op"
            # "field: message": a check across fields names the one at fault.
            raise ValueError(f"{missing}: expected recovery_op and recovery_threshold together")
        if self.recover_from == "episode" and self.condition_type != "relative_change":
            raise ValueError("recover_from: episode applies to a relative_change condition only")
        return self

    @field_validator("series_filter")
    @classmethod
    def _series_filter(cls, value: list[str]) -> list[str]:
        try:
            return [str(m) for m in parse_filter(value)]
        except MatcherError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("expected a non-empty name")
        return value

    @field_validator("comparison_op", "recovery_op", mode="before")
    @classmethod
    def _op(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            return SYMBOL_OPS.get(value, value.lower())
        return value

    @field_validator("threshold_value", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Decimal:
        return threshold_number(value)

    @field_validator("action_config")
    @classmethod
    def _actions(cls, value: dict[str, Any] | list[dict[str, Any]]) -> Any:
        try:
            normalised = validate_action_config(value)
        except ActionConfigError as exc:
            raise ValueError(str(exc)) from None
        # Keep the seed's single-object form when that is what was given.
        return normalised[0] if isinstance(value, dict) else normalised

    @field_validator("muted_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expected a time with a UTC offset, e.g. 2026-01-01T14:00:00Z")
        return value


class AlertDefinition(AlertFields):
    """What ``create_alert`` validates (the chat planner drafts the same model)."""

    metric_id: uuid.UUID


class Alert(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    metric_id: uuid.UUID
    name: str
    description: str
    condition_type: ConditionType
    comparison_op: ComparisonOp
    threshold_value: Decimal
    change_mode: ChangeMode
    lookback: int
    action_config: dict[str, Any] | list[dict[str, Any]]
    enabled: bool
    cooldown_seconds: int
    pending_evaluations: int
    notify_on_resolve: bool
    muted_until: datetime | None
    series_filter: list[str] = []
    resolve_missing_after: int = 2
    drop_resolve_when_muted: bool = False
    on_no_data: NoDataHandling = "no_data"
    on_error: ErrorHandling = "error"
    failure_notice: bool = True
    repeat_every_seconds: int | None = None
    recovery_op: ComparisonOp | None = None
    recovery_threshold: Decimal | None = None
    recover_from: RecoverFrom = "run"
    for_seconds: int = 0
    keep_firing_seconds: int = 0
    # Filled by AlertStore.with_series: the metric's label columns, and how many of the
    # alert's series are in each state.
    series_by: list[str] = []
    series_states: dict[str, int] = {}
    state: AlertState
    consecutive_breaches: int
    episode_notified: bool
    last_triggered_at: datetime | None
    last_evaluated_at: datetime | None
    last_value: Decimal | None
    last_execution_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @property
    def actions(self) -> list[dict[str, Any]]:
        cfg = self.action_config
        return [cfg] if isinstance(cfg, dict) else list(cfg)

    def public(self) -> dict[str, Any]:
        """The contract's JSON shape; secrets in actions redacted."""
        data = self.model_dump(
            mode="json", exclude={"consecutive_breaches", "episode_notified", "last_execution_id"}
        )
        data["threshold_value"] = json_number(self.threshold_value)
        data["recovery_threshold"] = json_number(self.recovery_threshold)
        data["last_value"] = json_number(self.last_value)
        data["series_count"] = sum(self.series_states.values())
        cfg = self.action_config
        data["action_config"] = (
            redact_action(cfg) if isinstance(cfg, dict) else [redact_action(a) for a in cfg]
        )
        return data


class SeriesRow(BaseModel):
    """One series an alert watches, with its state."""

    id: uuid.UUID
    alert_id: uuid.UUID
    series_key: str
    labels: dict[str, str]
    state: AlertState
    consecutive_breaches: int
    last_triggered_at: datetime | None
    last_evaluated_at: datetime | None
    last_value: Decimal | None
    last_seen_at: datetime | None

    def public(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"series_key"})
        data["last_value"] = json_number(self.last_value)
        return data


class HistoryRow(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    org_id: uuid.UUID
    execution_id: uuid.UUID | None
    evaluated_at: datetime
    value: Decimal | None
    baseline_value: Decimal | None
    triggered: bool
    state_from: AlertState
    state_to: AlertState
    notified: bool
    reason: str
    series_id: uuid.UUID | None = None
    labels: dict[str, str] | None = None

    def public(self) -> dict[str, Any]:
        # A row written outside any series (log_alert_history) shows none.
        none = {"series_id", "labels"} if self.series_id is None and self.labels is None else set()
        data = self.model_dump(mode="json", exclude={"org_id", *none})
        if self.series_id is not None and self.labels is None:
            data["labels"] = {}  # the one series of a metric without series
        data["value"] = json_number(self.value)
        data["baseline_value"] = json_number(self.baseline_value)
        return data


_WHEN_OPS = sorted([*SYMBOL_OPS, *OP_SYMBOLS], key=len, reverse=True)


def parse_when(text: str) -> tuple[str, Decimal, bool]:
    """``"> 5"``, ``"gte 10"``, ``"< -20%"`` → (op, threshold, percent sign given).

    ValueError says what was expected.
    """
    expected = (
        "expected an operator (>, >=, <, <=, ==, != or gt, gte, lt, lte, eq, ne) "
        'and a number, e.g. "> 5"'
    )
    cleaned = text.strip()
    for token in _WHEN_OPS:
        if cleaned.lower().startswith(token):
            rest = cleaned[len(token) :].strip()
            if token.isalpha() and rest and not (rest[0].isspace() or rest[0] in "+-.0123456789"):
                continue
            percent = rest.endswith("%")
            number = rest.removesuffix("%").strip()
            try:
                Decimal(number)
            except InvalidOperation:
                raise ValueError(f"{text!r}: {expected}") from None
            # A number, but maybe not one a threshold may be: say which limit it breaks.
            try:
                value = threshold_number(number)
            except ValueError as exc:
                raise ValueError(f"{text[:60]!r}: {exc}") from None
            return SYMBOL_OPS.get(token, token), value, percent
    raise ValueError(f"{text!r}: {expected}")
