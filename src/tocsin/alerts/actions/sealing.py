"""Which fields of an action are secret, and sealing/opening them (docs/security.md).

A field is secret exactly when redaction hides it: the fields each channel names in
``secret_fields`` (``url``, ``secret``, ``routing_key``, every webhook header value).

Input from users is always sealed, even when it already looks sealed: a tenant could
paste someone else's ciphertext, which the server would otherwise open and send. The
one exception is a value that is, byte for byte, what is stored at the same place of
the same alert: that is a secret sent back as shown and kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tocsin.alerts.actions.registry import CHANNELS
from tocsin.crypto.fields import (
    FieldPath,
    SecretPaths,
    kept_at,
    open_at,
    replaced,
    seal_at,
    secret_paths,
)
from tocsin.crypto.keyring import Keyring, label_of
from tocsin.http import redact_url

# What validation sees in place of a kept sealed value (it was checked when first
# written, and checking it again would mean opening it).
_STAND_IN = "sealed"
_STAND_IN_URL = "https://sealed.invalid/"


def action_secret_paths(action: Mapping[str, Any]) -> SecretPaths:
    """The secret string values present in ``action``, with their redaction style."""
    kind = action.get("type")
    channel = CHANNELS.get(kind) if isinstance(kind, str) else None
    if channel is None:
        return []
    return secret_paths(action, channel.secret_fields)


def url_label(style: str, plaintext: str) -> str:
    """The public label of a sealed URL: its scheme and host."""
    if style != "url":
        return ""
    shown = redact_url(plaintext)
    return "" if shown.startswith("<") else shown


def kept_in_action(
    action: Mapping[str, Any], stored: Iterable[Mapping[str, Any]]
) -> dict[FieldPath, str]:
    """Secret values of ``action`` that are exactly what a stored action of the same
    type holds at the same place (sent back as shown, so kept sealed as they are)."""
    same_type = [s for s in stored if s.get("type") == action.get("type")]
    return kept_at(action, action_secret_paths(action), same_type)


def with_stand_ins(action: Mapping[str, Any], kept: Mapping[FieldPath, str]) -> dict[str, Any]:
    """``action`` as validation should see it: kept sealed values replaced by valid
    stand-ins (a sealed URL by its public scheme and host)."""
    styles = dict(action_secret_paths(action))
    stand_ins = {}
    for path, value in kept.items():
        if styles.get(path) == "url":
            label = label_of(value)
            stand_ins[path] = f"{label}/" if label else _STAND_IN_URL
        else:
            stand_ins[path] = _STAND_IN
    return replaced(action, stand_ins)


def config_stand_ins(
    config: Any, stored: Iterable[Mapping[str, Any]]
) -> tuple[Any, list[dict[FieldPath, str]]]:
    """An ``action_config`` (one action or a list) with stand-ins for its kept values,
    and the kept values of each action (for ``put_back`` after validation)."""
    stored = list(stored)
    if not isinstance(config, Mapping | list):
        return config, []
    actions = [config] if isinstance(config, Mapping) else config
    kept = [kept_in_action(a, stored) if isinstance(a, Mapping) else {} for a in actions]
    stood = [
        with_stand_ins(a, k) if isinstance(a, Mapping) else a
        for a, k in zip(actions, kept, strict=True)
    ]
    return (stood[0] if isinstance(config, Mapping) else stood), kept


def put_back(config: Any, kept: list[dict[FieldPath, str]]) -> Any:
    """A validated ``action_config`` with its kept sealed values where the stand-ins were."""
    if not kept:
        return config
    actions = [config] if isinstance(config, Mapping) else list(config)
    back = [replaced(a, k) for a, k in zip(actions, kept, strict=True)]
    return back[0] if isinstance(config, Mapping) else back


def seal_action(
    action: Mapping[str, Any], ring: Keyring, kept: Mapping[FieldPath, str] | None = None
) -> dict[str, Any]:
    """``action`` with every secret sealed; the ``kept`` places get their stored value."""
    return seal_at(action, action_secret_paths(action), ring, kept, url_label)


def open_action(action: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    """``action`` with its secrets in clear, for the channel that sends it.

    Raises SecretUnreadable (naming the field, never the value)."""
    kind = action.get("type")
    return open_at(
        action,
        action_secret_paths(action),
        ring,
        lambda path: f"the {kind} action's {'.'.join(path[:1])}",
    )
