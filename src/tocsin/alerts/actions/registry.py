"""Action configs: validation, redaction and the shorthand for one (``webhook:URL``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tocsin.alerts.actions.base import REDACTED, ActionConfigError, Channel
from tocsin.alerts.actions.email import EmailChannel
from tocsin.alerts.actions.log import LogChannel
from tocsin.alerts.actions.pagerduty import PagerDutyChannel
from tocsin.alerts.actions.slack import SlackChannel
from tocsin.alerts.actions.webhook import WebhookChannel
from tocsin.crypto.keyring import is_sealed, label_of
from tocsin.http import redact_url

CHANNELS: dict[str, type[Channel[Any]]] = {
    c.type: c for c in (LogChannel, SlackChannel, WebhookChannel, EmailChannel, PagerDutyChannel)
}


def _error_from(exc: ValidationError, field: str, model_fields: set[str]) -> ActionConfigError:
    # Built from locations and messages only: pydantic's own text quotes the input,
    # which may be a secret.
    err = exc.errors()[0]
    path = field + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        return ActionConfigError(
            path, f"unknown field; expected one of {', '.join(sorted(model_fields))}"
        )
    if kind == "missing":
        return ActionConfigError(path, "required field is missing")
    return ActionConfigError(path, err["msg"].removeprefix("Value error, "))


def _visible_keys(channel: type[Channel[Any]]) -> set[str]:
    keys: set[str] = set()
    for name, info in channel.Config.model_fields.items():
        keys.add(name)
        if info.serialization_alias:
            keys.add(info.serialization_alias)
        choices = getattr(info.validation_alias, "choices", None) or []
        keys.update(c for c in choices if isinstance(c, str))
    return keys


def validate_action(obj: Any, *, field: str = "action_config") -> dict[str, Any]:
    """Check one action object and return its normalised form (what gets stored)."""
    if not isinstance(obj, Mapping):
        raise ActionConfigError(field, 'expected an object with a "type" field')
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in CHANNELS:
        raise ActionConfigError(f"{field}.type", f"expected one of {', '.join(sorted(CHANNELS))}")
    channel = CHANNELS[kind]
    try:
        model = channel.Config.model_validate(dict(obj))
    except ValidationError as exc:
        names = set(channel.Config.model_fields) - {"channel_id"}
        names |= {"channelId"} if kind == "slack" else set()
        raise _error_from(exc, field, names) from None
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def validate_action_config(obj: Any, *, field: str = "action_config") -> list[dict[str, Any]]:
    """The alert's ``action_config``: one action object or a non-empty list of them."""
    if isinstance(obj, Mapping):
        return [validate_action(obj, field=field)]
    if isinstance(obj, list):
        if not obj:
            raise ActionConfigError(field, "expected at least one action")
        return [validate_action(item, field=f"{field}[{i}]") for i, item in enumerate(obj)]
    raise ActionConfigError(field, "expected an action object or a list of action objects")


def redact_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to show: secret values replaced, secret URLs cut to scheme+host.

    Keys the channel does not know (a stored config from an older version, a typo) are
    hidden too, since nothing says they are harmless.
    """
    kind = action.get("type")
    channel = CHANNELS.get(kind) if isinstance(kind, str) else None
    if channel is None:
        return {k: (v if k == "type" else REDACTED) for k, v in action.items()}
    visible = _visible_keys(channel)
    out: dict[str, Any] = {}
    for key, value in action.items():
        style = channel.secret_fields.get(key)
        if key == "type" or (style is None and key in visible):
            out[key] = value
        elif style == "url" and isinstance(value, str):
            # A sealed URL carries its scheme and host as a public label.
            shown = label_of(value) or "<sealed>" if is_sealed(value) else redact_url(value)
            out[key] = REDACTED if shown.startswith("<") else f"{shown}/***"
        elif style == "mapping" and isinstance(value, Mapping):
            out[key] = {k: REDACTED for k in value}
        else:
            out[key] = REDACTED
    return out


def redact_action_config(obj: Any) -> Any:
    """``redact_action`` over an ``action_config`` (one object or a list)."""
    if isinstance(obj, Mapping):
        return redact_action(obj)
    if isinstance(obj, list):
        return [redact_action(a) if isinstance(a, Mapping) else REDACTED for a in obj]
    return REDACTED


_SHORTHAND = {
    "slack": "url",
    "slack-channel": "channelId",
    "webhook": "url",
    "email": "to",
    "pagerduty": "routing_key",
}


def spec_help(field: str) -> str:
    """What an action shorthand may be, with examples given as ``field`` (the edge's name
    for the input, e.g. the CLI's ``--action``)."""
    return (
        "expected log | slack:<incoming-webhook URL> | slack-channel:<channel id> | "
        "webhook:<URL> | email:<address> | pagerduty:<routing key> | a JSON object, "
        f"e.g. {field} webhook:https://example.com/hook or "
        f'{field} \'{{"type":"slack","channelId":"C0123"}}\''
    )


def parse_action_spec(spec: str, *, field: str) -> dict[str, Any]:
    """Turn an action shorthand (``webhook:URL``, ``log``, a JSON object) into a validated
    action dict. Errors, and the examples they give, name the input as ``field``."""
    text = spec.strip()
    if text == "log":
        return validate_action({"type": "log"}, field=field)
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            raise ActionConfigError(field, "invalid JSON; " + spec_help(field)) from None
        return validate_action(obj, field=field)
    prefix, sep, rest = text.partition(":")
    key = _SHORTHAND.get(prefix)
    if not sep or key is None or not rest.strip():
        raise ActionConfigError(field, spec_help(field))
    kind = "slack" if prefix == "slack-channel" else prefix
    return validate_action({"type": kind, key: rest.strip()}, field=field)
