"""Where notifications and metric sources go, checked when they are saved.

An action or HTTP source whose URL the SSRF guard would refuse is bad input at save time
(the field and the address named), so nobody learns of it when the alert first fires.
What can only fail later is saved with a warning: a ``slack-channel`` action without
``TOCSIN_SLACK_BOT_TOKEN``, a SQL source's variable that is not set yet."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tocsin.alerts.actions import REDACTED
from tocsin.crypto import is_sealed
from tocsin.errors import InvalidInput
from tocsin.http.guard import AddressPolicy
from tocsin.http.preflight import Resolve, refusal
from tocsin.settings import Settings

_URL_CHANNELS = ("webhook", "slack")


def _given(value: object) -> bool:
    # A redacted placeholder or a sealed value is the stored one: checked when saved.
    return isinstance(value, str) and value != REDACTED and not is_sealed(value)


def check_actions(
    action_config: Any,
    settings: Settings,
    *,
    field: str = "action_config",
    resolve: Resolve | None = None,
) -> list[str]:
    """Refuse an action the guard would refuse; return warnings about the rest."""
    actions = action_config if isinstance(action_config, list) else [action_config]
    policy = AddressPolicy.from_settings(settings)
    warnings: list[str] = []
    for index, action in enumerate(actions):
        if not isinstance(action, Mapping):
            continue
        where = field if not isinstance(action_config, list) else f"{field}[{index}]"
        kind, url = action.get("type"), action.get("url")
        if kind in _URL_CHANNELS and _given(url):
            reason = refusal(str(url), policy, resolve)
            if reason is not None:
                raise InvalidInput(f"{where}.url", reason)
        channel = action.get("channelId") or action.get("channel_id") or action.get("channel")
        if kind == "slack" and channel and settings.slack_bot_token is None:
            warnings.append(
                f"{where}: slack channel {channel} needs TOCSIN_SLACK_BOT_TOKEN on the server; "
                "until it is set, its notifications fail"
            )
    return warnings


def check_source(
    source: Mapping[str, Any],
    settings: Settings,
    *,
    resolve: Resolve | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Refuse an HTTP source the guard would refuse; warn of a variable not set yet."""
    kind = source.get("type")
    if kind == "http" and _given(source.get("url")):
        reason = refusal(str(source["url"]), AddressPolicy.from_settings(settings), resolve)
        if reason is not None:
            raise InvalidInput("source.url", reason)
    env = os.environ if environ is None else environ
    name = source.get("dsn_env")
    if kind == "sql" and isinstance(name, str) and not env.get(name):
        return [f"source.dsn_env: environment variable {name} is not set on this server (yet)"]
    return []
