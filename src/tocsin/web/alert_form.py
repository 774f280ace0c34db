"""The alert form as it posts: the API request body it stands for, and the mistakes found
on the way (a field the form writes its own way: durations, actions by row). The
editor (``editor.py``) validates that body with the API's models.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from tocsin.durations import parse_duration

ACTION_TYPES = {
    "log": "Log line",
    "slack": "Slack incoming webhook URL",
    "slack-channel": "Slack channel ID (bot token)",
    "webhook": "Webhook URL",
    "email": "E-mail addresses",
    "pagerduty": "PagerDuty routing key",
}
FORM_FIELDS = (
    "metric_id",
    "name",
    "description",
    "condition_type",
    "comparison_op",
    "threshold_value",
    "change_mode",
    "lookback",
    "cooldown_seconds",
    "pending_evaluations",
    "resolve_missing_after",
    "series_filter",
    "on_no_data",
    "on_error",
    "repeat_every_seconds",
    "recovery_op",
    "recovery_threshold",
    "recover_from",
    "for_seconds",
    "keep_firing_seconds",
)
Errors = list[tuple[str, str]]


def _action(kind: str, target: str, secret: str, index: int) -> tuple[dict[str, Any], Errors]:
    field = f"action_config[{index}]"
    if kind == "log":
        return {"type": "log"}, []
    if not target:
        return {}, [(field, f"expected the {ACTION_TYPES.get(kind, 'target').lower()}")]
    if kind == "slack":
        return {"type": "slack", "url": target}, []
    if kind == "slack-channel":
        return {"type": "slack", "channelId": target}, []
    if kind == "webhook":
        # None, not absent: an emptied secret field removes the stored secret on edit.
        return {"type": "webhook", "url": target, "secret": secret or None}, []
    if kind == "email":
        return {"type": "email", "to": [a.strip() for a in target.split(",") if a.strip()]}, []
    if kind == "pagerduty":
        return {"type": "pagerduty", "routing_key": target}, []
    return {}, [(field, f"expected one of {', '.join(ACTION_TYPES)}")]


def action_rows(form: FormData) -> list[dict[str, str]]:
    """The form's action rows as typed: a type, a target and a secret each."""
    targets = form.getlist("action_target")
    secrets = form.getlist("action_secret")
    return [
        {
            "kind": str(kind),
            "target": str(targets[i]) if i < len(targets) else "",
            "secret": str(secrets[i]) if i < len(secrets) else "",
        }
        for i, kind in enumerate(form.getlist("action_type"))
    ]


def _actions(form: FormData) -> tuple[list[dict[str, Any]], Errors]:
    actions: list[dict[str, Any]] = []
    errors: Errors = []
    for row in action_rows(form):
        if not row["kind"]:
            continue  # an unused row
        target, secret = row["target"].strip(), row["secret"].strip()
        action, problems = _action(row["kind"], target, secret, len(actions))
        errors += problems
        if action:
            actions.append(action)
    if not actions and not errors:
        errors.append(
            ("action_config", "expected at least one action (choose Log line to only record)")
        )
    return actions, errors


def _seconds(text: str, field: str, errors: Errors) -> int | None:
    """A duration field as seconds (``90``, ``30m``, ``1h``); blank is None."""
    if not text:
        return None
    try:
        return int(text) if text.isdigit() else parse_duration(text)
    except ValueError:
        errors.append((field, "expected seconds or a duration such as 30m or 1h"))
        return None


def form_body(form: FormData) -> tuple[dict[str, Any], Errors]:
    """The API request body the form stands for, and the mistakes found on the way."""
    body: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in FORM_FIELDS}
    errors: Errors = []
    if not body["description"]:
        body.pop("description")
    for key in (
        "lookback",
        "pending_evaluations",
        "resolve_missing_after",
        "on_no_data",
        "on_error",
    ):
        if not body[key]:
            body.pop(key)
    if "series_filter" in form:
        # One matcher a line: a regular expression may hold commas ({1,3}).
        lines = body["series_filter"].splitlines()
        body["series_filter"] = [m.strip() for m in lines if m.strip()]
    else:
        body.pop("series_filter")
    if "recovery_threshold" in form and not body["recovery_threshold"]:
        # No recovery threshold: resolve when the condition no longer holds.
        body["recovery_op"] = body["recovery_threshold"] = None
    for key in ("recovery_op", "recovery_threshold", "recover_from"):
        if key not in form:
            body.pop(key)
    repeat = body.pop("repeat_every_seconds")
    if "repeat_every_seconds" in form:
        # Blank is never: the form always says, so emptying it turns reminders off.
        body["repeat_every_seconds"] = _seconds(repeat, "repeat_every_seconds", errors)
    for key in ("for_seconds", "keep_firing_seconds"):
        # Blank or 0 is off; the form always says, so emptying one turns it off.
        held = body.pop(key)
        if key in form:
            body[key] = _seconds(held, key, errors) or 0
    cooldown = _seconds(body.pop("cooldown_seconds"), "cooldown_seconds", errors)
    if cooldown is not None:
        body["cooldown_seconds"] = cooldown
    body["notify_on_resolve"] = form.get("notify_on_resolve") is not None
    body["drop_resolve_when_muted"] = form.get("drop_resolve_when_muted") is not None
    body["failure_notice"] = form.get("failure_notice") is not None
    body["enabled"] = form.get("enabled") is not None
    actions, problems = _actions(form)
    errors += problems
    body["action_config"] = actions[0] if len(actions) == 1 else actions
    return body, errors
