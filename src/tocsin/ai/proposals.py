"""What a planner (the offline parser or a model's tool call) may propose.

These are the tool argument types of the model path and the output of the offline
parser, so both paths end in the same validation and the same clarifying questions.
A proposal names things as the user did; resolving names to this org's metrics and
alerts, and validating the alert, is the planner's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tocsin.alerts.decision import (
    ChangeMode,
    ComparisonOp,
    ConditionType,
    ErrorHandling,
    NoDataHandling,
)
from tocsin.alerts.model import MAX_COOLDOWN


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateAlertArgs(_Args):
    """Propose an alert; the user confirms before it is saved."""

    metric: str = Field(description="The metric's exact name (see list_metrics) or id.")
    comparison_op: ComparisonOp = Field(
        description="gt (>), gte (>=), lt (<), lte (<=), eq (==), ne (!=)."
    )
    threshold_value: Decimal = Field(
        description="The threshold; for relative_change the change (a drop of more than "
        "20% is comparison_op lt with -20)."
    )
    condition_type: ConditionType = Field(
        default="threshold",
        description="threshold: the value itself; relative_change: change from a past run.",
    )
    change_mode: ChangeMode = Field(
        default="percent", description="relative_change only: percent or absolute change."
    )
    lookback: int = Field(
        default=1, ge=1, le=1000, description="relative_change: how many runs back."
    )
    action_config: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Destinations, e.g. {"type":"slack","channelId":"#ops"}, '
        '{"type":"slack","url":"https://hooks.slack.com/..."}, '
        '{"type":"webhook","url":"https://..."}, {"type":"email","to":["a@b.com"]}, '
        '{"type":"pagerduty"} ("page me"; the routing key is filled in), {"type":"log"}. '
        "Empty: log only.",
    )
    cooldown_seconds: int = Field(
        default=3600,
        ge=0,
        le=MAX_COOLDOWN,
        description="At most one notification per this many seconds; 0 = every time.",
    )
    pending_evaluations: int = Field(
        default=1, ge=1, le=1000, description="Breaching runs in a row before it fires."
    )
    notify_on_resolve: bool = Field(default=True, description="Tell when it recovers.")
    on_no_data: NoDataHandling = Field(
        default="no_data",
        description="What no data means: no_data (its own state, the default), alerting "
        '("alert me if data stops coming"), ok ("treat missing data as ok"), keep_last.',
    )
    on_error: ErrorHandling = Field(
        default="error",
        description="What a failing query or endpoint means: error (its own state, the "
        'default), alerting ("alert me if the query fails"), ok, keep_last.',
    )
    failure_notice: bool = Field(
        default=True,
        description="Notify when the data breaks (no data, errors) and when it recovers; "
        'false only if asked ("don\'t tell me about query errors").',
    )
    repeat_every_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_COOLDOWN,
        description='Reminders while it stays triggered, in seconds ("remind me every 4 '
        'hours" is 14400); null (the default): never.',
    )
    for_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_COOLDOWN,
        description='Seconds the condition must hold before it fires ("for 10 minutes" is '
        '600; "for 3 runs in a row" is pending_evaluations instead). 0: at once.',
    )
    keep_firing_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_COOLDOWN,
        description="Seconds it stays triggered after it clears, only if asked.",
    )
    recovery_op: ComparisonOp | None = Field(
        default=None,
        description="With recovery_threshold, only if asked: resolve only when this holds "
        '("fire above 10, recover below 4" is lt 4). Null: when the condition no longer holds.',
    )
    recovery_threshold: Decimal | None = Field(default=None, description="See recovery_op.")
    recover_from: Literal["run", "episode"] = Field(
        default="run",
        description='relative_change only: "episode" measures recovery from the value before '
        'it fired ("until it is back near where it was"), "run" from the previous run.',
    )
    drop_resolve_when_muted: bool = Field(
        default=False,
        description='Drop resolves due while muted ("no resolves while muted"); by '
        "default they are sent.",
    )
    name: str | None = Field(default=None, description="Only if the user gave one.")
    per: list[str] = Field(
        default_factory=list,
        max_length=10,
        description='Labels the user asked to alert per, as they said them: "errors per '
        'service", "for each country" -> ["service"], ["country"]. Set it whatever the '
        "metric's series_by: the planner asks when the metric is not split that way.",
    )
    series_filter: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Which series of the metric to watch, as label matchers on its "
        'series_by labels: "except batch" is ["service!=batch"], "only for api" '
        '["service=api"] (operators =, !=, =~, !~). Empty: every series.',
    )


class ListAlertsArgs(_Args):
    """List this org's alerts, optionally of one metric."""

    metric: str | None = Field(default=None, description="A metric name, or null for all.")


class MuteAlertArgs(_Args):
    """Propose muting an alert for a while; the user confirms."""

    alert: str = Field(description="The alert's name (see list_alerts) or id.")
    duration_seconds: int = Field(ge=1, le=MAX_COOLDOWN, description="How long to mute.")


class ExplainAlertArgs(_Args):
    """Explain an alert's recent evaluations (why it fired or did not)."""

    alert: str = Field(description="The alert's name (see list_alerts) or id.")


Proposal = CreateAlertArgs | ListAlertsArgs | MuteAlertArgs | ExplainAlertArgs


@dataclass
class Clarify:
    """Not enough to act on: a question for the user, never a guess."""

    question: str
    intent: str = "unknown"
    candidates: list[str] = field(default_factory=list)


@dataclass
class ListMetrics:
    """ "What metrics do I have?"."""


CueKind = Literal[
    "negation",
    "duration",
    "window",
    "comparison",
    "channel",
    "aggregate",
    "schedule",
    "expectation",
    "percent",
    "number",
    "compound",
    "series",
]


@dataclass(frozen=True)
class Cue:
    """A meaning-changing phrase of the message. ``handled``: the reading used it (a
    negation read with its operator); otherwise it is why the planner asks."""

    kind: CueKind
    text: str
    handled: bool = False


@dataclass
class Parsed:
    """The offline parser's reading of a message: ``cues`` are its meaning-changing
    phrases (see :mod:`tocsin.ai.meaning`), ``unparsed`` the words the reading did not use."""

    result: Proposal | Clarify | ListMetrics
    notes: list[str] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)


INTENTS: dict[type[Any], str] = {
    CreateAlertArgs: "create_alert",
    ListAlertsArgs: "list_alerts",
    MuteAlertArgs: "mute_alert",
    ExplainAlertArgs: "explain_alert",
    ListMetrics: "list_metrics",
}
