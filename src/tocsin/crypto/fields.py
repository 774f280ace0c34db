"""Which stored fields are secret, and sealing/opening them in actions and sources.

A field is secret exactly when redaction hides it: the fields each channel names in
``secret_fields`` (``url``, ``secret``, ``routing_key``, every webhook header value) and
every metric-source header value that is not a pure reference (``${VAR}``, ``$VAR``,
``${cred:NAME}``; those are resolved at fetch time and hold no secret themselves).

Input from users is always sealed, even when it already looks sealed: a tenant could
paste someone else's ciphertext, which the server would otherwise open and send. The
one exception is a value that is, byte for byte, what is stored at the same place of
the same alert or metric: that is a secret sent back as shown and kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from tocsin.alerts.actions.registry import CHANNELS
from tocsin.crypto.keyring import Keyring, is_sealed, label_of
from tocsin.http import redact_url

#: A place in an action or source: ``("secret",)`` or ``("headers", "Authorization")``.
FieldPath = tuple[str, ...]

_REFERENCE = re.compile(r"^\$\{(?:cred:)?[A-Za-z_][A-Za-z0-9_]*\}$|^\$[A-Za-z_][A-Za-z0-9_]*$")
# What validation sees in place of a kept sealed value (it was checked when first
# written, and checking it again would mean opening it).
_STAND_IN = "sealed"
_STAND_IN_URL = "https://sealed.invalid/"


def is_secret_header(value: object) -> bool:
    """A source header value is secret unless it is exactly one reference."""
    return not (isinstance(value, str) and _REFERENCE.match(value))


def action_secret_paths(action: Mapping[str, Any]) -> list[tuple[FieldPath, str]]:
    """The secret string values present in ``action``, with their redaction style."""
    kind = action.get("type")
    channel = CHANNELS.get(kind) if isinstance(kind, str) else None
    if channel is None:
        return []
    found: list[tuple[FieldPath, str]] = []
    for key, style in channel.secret_fields.items():
        value = action.get(key)
        if style == "mapping" and isinstance(value, Mapping):
            found += [((key, k), style) for k, v in value.items() if isinstance(v, str)]
        elif isinstance(value, str):
            found.append(((key,), style))
    return found


def source_secret_paths(source: Mapping[str, Any]) -> list[tuple[FieldPath, str]]:
    headers = source.get("headers")
    if not isinstance(headers, Mapping):
        return []
    return [
        (("headers", k), "value")
        for k, v in headers.items()
        if isinstance(v, str) and is_secret_header(v)
    ]


def get_at(obj: Mapping[str, Any], path: FieldPath) -> Any:
    value: Any = obj
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _replaced(obj: Mapping[str, Any], values: Mapping[FieldPath, str]) -> dict[str, Any]:
    out = dict(obj)
    for path, value in values.items():
        if len(path) == 1:
            out[path[0]] = value
        else:
            inner = dict(out[path[0]])
            inner[path[1]] = value
            out[path[0]] = inner
    return out


def _url_label(style: str, plaintext: str) -> str:
    if style != "url":
        return ""
    shown = redact_url(plaintext)
    return "" if shown.startswith("<") else shown


# Kept values -------------------------------------------------------------------


def kept_in_action(
    action: Mapping[str, Any], stored: Iterable[Mapping[str, Any]]
) -> dict[FieldPath, str]:
    """Secret values of ``action`` that are exactly what a stored action of the same
    type holds at the same place (sent back as shown, so kept sealed as they are)."""
    stored = [s for s in stored if s.get("type") == action.get("type")]
    kept: dict[FieldPath, str] = {}
    for path, _style in action_secret_paths(action):
        value = get_at(action, path)
        if is_sealed(value) and any(get_at(s, path) == value for s in stored):
            kept[path] = value
    return kept


def kept_in_source(
    source: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[FieldPath, str]:
    if stored is None:
        return {}
    kept: dict[FieldPath, str] = {}
    for path, _style in source_secret_paths(source):
        value = get_at(source, path)
        if is_sealed(value) and get_at(stored, path) == value:
            kept[path] = value
    return kept


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
    return _replaced(action, stand_ins)


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
    back = [_replaced(a, k) for a, k in zip(actions, kept, strict=True)]
    return back[0] if isinstance(config, Mapping) else back


# Sealing and opening --------------------------------------------------------------


def seal_action(
    action: Mapping[str, Any], ring: Keyring, kept: Mapping[FieldPath, str] | None = None
) -> dict[str, Any]:
    """``action`` with every secret sealed; the ``kept`` places get their stored value."""
    kept = kept or {}
    sealed: dict[FieldPath, str] = {}
    for path, style in action_secret_paths(action):
        if path in kept:
            sealed[path] = kept[path]
        else:
            plaintext = get_at(action, path)
            sealed[path] = ring.seal(plaintext, _url_label(style, plaintext))
    return _replaced(action, sealed)


def open_action(action: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    """``action`` with its secrets in clear, for the channel that sends it.

    Raises SecretUnreadable (naming the field, never the value)."""
    opened: dict[FieldPath, str] = {}
    for path, _style in action_secret_paths(action):
        what = f"the {action.get('type')} action's {'.'.join(path[:1])}"
        opened[path] = ring.open(get_at(action, path), what)
    return _replaced(action, opened)


def seal_source(
    source: Mapping[str, Any], ring: Keyring, kept: Mapping[FieldPath, str] | None = None
) -> dict[str, Any]:
    kept = kept or {}
    sealed = {
        path: kept[path] if path in kept else ring.seal(get_at(source, path))
        for path, _style in source_secret_paths(source)
    }
    return _replaced(source, sealed)


def open_header(name: str, value: str, ring: Keyring) -> str:
    """One stored source header value in clear (a reference stays as it is)."""
    if not is_secret_header(value):
        return value
    return ring.open(value, f"header {name}")


def open_source(source: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    """A stored source with its header values in clear, for the run that fetches it.

    Raises SecretUnreadable (naming the header, never the value)."""
    return _replaced(
        source,
        {
            path: open_header(path[1], get_at(source, path), ring)
            for path, _style in source_secret_paths(source)
        },
    )


def reseal_all(obj: Any, ring: Keyring) -> tuple[Any, int]:
    """Every sealed string anywhere in ``obj`` resealed with the first key (rotation),
    and how many there were."""
    if isinstance(obj, str):
        return (ring.reseal(obj), 1) if is_sealed(obj) else (obj, 0)
    if isinstance(obj, Mapping):
        count = 0
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out[key], n = reseal_all(value, ring)
            count += n
        return out, count
    if isinstance(obj, list):
        items = [reseal_all(v, ring) for v in obj]
        return [v for v, _ in items], sum(n for _, n in items)
    return obj, 0
