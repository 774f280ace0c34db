"""The options ``alert create`` and ``alert update`` share, read into alert fields.

Each option is optional here: ``update`` changes only what was given, ``create`` fills
in its defaults first. Errors name the flag, as everywhere in the CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from tocsin.alerts import actions
from tocsin.alerts.actions import ActionConfigError
from tocsin.alerts.model import parse_when
from tocsin.durations import parse_duration
from tocsin.errors import InvalidInput
from tocsin.metrics.store import MetricStore

# Options ``alert create`` and ``alert update`` declare alike.
OnNoData = Annotated[
    str | None, typer.Option("--on-no-data", help="no_data (default) | alerting | ok | keep_last")
]
OnError = Annotated[
    str | None, typer.Option("--on-error", help="error (default) | alerting | ok | keep_last")
]
RepeatEvery = Annotated[
    str | None,
    typer.Option("--repeat-every", help="Remind while triggered, e.g. 4h; never (default)."),
]
RecoverWhen = Annotated[
    str | None,
    typer.Option("--recover-when", help='Resolve only when this holds, e.g. "< 4"; off.'),
]
RecoverFromFlag = Annotated[
    str | None, typer.Option("--recover-from", help="run | episode (relative change).")
]
HeldFor = Annotated[
    str | None, typer.Option("--for", help="Fire only once it held this long, e.g. 5m (0: off).")
]
KeepFiringFor = Annotated[
    str | None, typer.Option("--keep-firing-for", help="Stay triggered this long after it clears.")
]

FLAG_NAMES = {
    "comparison_op": "--op",
    "threshold_value": "--threshold",
    "condition_type": "--condition",
    "change_mode": "--change-mode",
    "lookback": "--lookback",
    "cooldown_seconds": "--cooldown",
    "pending_evaluations": "--pending",
    "notify_on_resolve": "--resolve",
    "name": "--name",
    "description": "--description",
    "metric_id": "--metric",
    "action_config": "--action",
    "series_filter": "--series",
    "resolve_missing_after": "--resolve-missing-after",
    "drop_resolve_when_muted": "--drop-resolve-when-muted",
    "on_no_data": "--on-no-data",
    "on_error": "--on-error",
    "failure_notice": "--no-failure-notice",
    "repeat_every_seconds": "--repeat-every",
    "recovery_op": "--recover-when",
    "recovery_threshold": "--recover-when",
    "recover_from": "--recover-from",
    "for_seconds": "--for",
    "keep_firing_seconds": "--keep-firing-for",
}


def parse_action_spec(spec: str) -> dict[str, Any]:
    """``--action SPEC`` as an action dict; errors and their examples name the flag."""
    return actions.parse_action_spec(spec, field="--action")


def _repeat_seconds(text: str) -> int | None:
    if text.strip().lower() in ("off", "never", "none"):
        return None
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise InvalidInput("--repeat-every", f"{exc}, or never") from None


def _recovery(text: str) -> dict[str, Any]:
    """``--recover-when "< 4"`` as the recovery fields; ``off`` clears them."""
    if text.strip().lower() in ("off", "none", "default"):
        return {"recovery_op": None, "recovery_threshold": None}
    try:
        op, value, _ = parse_when(text)
    except ValueError as exc:
        raise InvalidInput("--recover-when", f"{exc}, or off") from None
    return {"recovery_op": op, "recovery_threshold": value}


def flagged(exc: InvalidInput) -> InvalidInput:
    """Name the CLI flag, not the stored field, in messages for CLI users."""

    def flag(field: str) -> str:
        return FLAG_NAMES.get(field.split(".", 1)[0], field)

    errors = [(flag(f), m) for f, m in exc.errors]
    return InvalidInput(errors[0][0], errors[0][1], more=errors[1:])


@dataclass
class AlertOptions:
    metric: str | None = None
    name: str | None = None
    when: str | None = None
    op: str | None = None
    threshold: str | None = None
    condition: str | None = None
    change_mode: str | None = None
    lookback: int | None = None
    cooldown: str | None = None
    pending: int | None = None
    resolve: bool | None = None
    actions: list[str] | None = None
    description: str | None = None
    series: list[str] | None = None
    resolve_missing_after: int | None = None
    drop_resolve_when_muted: bool | None = None
    on_no_data: str | None = None
    on_error: str | None = None
    failure_notice: bool | None = None
    repeat_every: str | None = None  # "4h", or "off"/"never"
    recover_when: str | None = None  # "< 4", or "off"
    recover_from: str | None = None
    held_for: str | None = None  # --for 5m
    keep_firing_for: str | None = None

    def fields(self, conn: Connection, org_id: uuid.UUID) -> dict[str, Any]:
        """The alert fields these options set (an option not given sets nothing)."""
        out: dict[str, Any] = {}
        if self.when is not None and (self.op is not None or self.threshold is not None):
            raise InvalidInput("--when", "give either --when or --op with --threshold")
        if self.when is not None:
            try:
                comparison, value, percent = parse_when(self.when)
            except ValueError as exc:
                raise InvalidInput("--when", str(exc)) from None
            out |= {"comparison_op": comparison, "threshold_value": value}
            if percent and self.change_mode is None:
                out["change_mode"] = "percent"
        elif (self.op is None) != (self.threshold is None):
            raise InvalidInput(
                "--op" if self.op is None else "--threshold", "give --op and --threshold together"
            )
        elif self.op is not None:
            out |= {"comparison_op": self.op, "threshold_value": self.threshold}
        if self.cooldown is not None:
            try:
                out["cooldown_seconds"] = parse_duration(self.cooldown)
            except ValueError as exc:
                raise InvalidInput("--cooldown", str(exc)) from None
        if self.repeat_every is not None:
            out["repeat_every_seconds"] = _repeat_seconds(self.repeat_every)
        if self.recover_when is not None:
            out |= _recovery(self.recover_when)
        if self.recover_from is not None:
            out["recover_from"] = self.recover_from
        for key, flag, text in (
            ("for_seconds", "--for", self.held_for),
            ("keep_firing_seconds", "--keep-firing-for", self.keep_firing_for),
        ):
            if text is not None:
                try:
                    out[key] = parse_duration(text)
                except ValueError as exc:
                    raise InvalidInput(flag, str(exc)) from None
        if self.actions is not None:
            try:
                parsed = [parse_action_spec(s) for s in self.actions]
            except ActionConfigError as exc:
                # The spec parser speaks of --action itself: say the flag once.
                raise InvalidInput("--action", str(exc).removeprefix("--action: ")) from None
            out["action_config"] = parsed[0] if len(parsed) == 1 else parsed
        if self.metric is not None:
            store = MetricStore(conn, org_id)
            found = store.find(self.metric)
            if found is None:
                names = store.names()
                known = f"; known metrics: {', '.join(names)}" if names else "; no metrics yet"
                raise InvalidInput("--metric", f"no metric named {self.metric!r}{known}")
            out["metric_id"] = found.id
        for key, given in (
            ("name", self.name),
            ("description", self.description),
            ("condition_type", self.condition),
            ("change_mode", self.change_mode),
            ("lookback", self.lookback),
            ("pending_evaluations", self.pending),
            ("notify_on_resolve", self.resolve),
            ("series_filter", self.series),
            ("resolve_missing_after", self.resolve_missing_after),
            ("drop_resolve_when_muted", self.drop_resolve_when_muted),
            ("on_no_data", self.on_no_data),
            ("on_error", self.on_error),
            ("failure_notice", self.failure_notice),
        ):
            if given is not None:
                out[key] = given
        return out
