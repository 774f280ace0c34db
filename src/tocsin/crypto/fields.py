"""Sealed values at places inside JSON documents (an action, a source): finding, sealing,
opening and resealing them.

Which places are secret is their owner's knowledge: the channels declare theirs
(``tocsin.alerts.actions.sealing``), metric sources theirs (``tocsin.metrics.sealing``).
This module knows only the keyring, so every layer can seal without crypto importing
any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tocsin.crypto.keyring import Keyring, is_sealed

#: A place in an action or source: ``("secret",)`` or ``("headers", "Authorization")``.
FieldPath = tuple[str, ...]
#: The secret places of a document, each with its redaction style (``url``, ``value``,
#: ``mapping``).
SecretPaths = list[tuple[FieldPath, str]]


def secret_paths(obj: Mapping[str, Any], fields: Mapping[str, str]) -> SecretPaths:
    """The secret string values present in ``obj``, when ``fields`` maps each secret key
    to its style; a ``mapping`` key's every string value is a secret of its own."""
    found: SecretPaths = []
    for key, style in fields.items():
        value = obj.get(key)
        if style == "mapping" and isinstance(value, Mapping):
            found += [((key, k), style) for k, v in value.items() if isinstance(v, str)]
        elif isinstance(value, str):
            found.append(((key,), style))
    return found


def get_at(obj: Mapping[str, Any], path: FieldPath) -> Any:
    value: Any = obj
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def replaced(obj: Mapping[str, Any], values: Mapping[FieldPath, str]) -> dict[str, Any]:
    """A copy of ``obj`` with ``values`` at their places."""
    out = dict(obj)
    for path, value in values.items():
        if len(path) == 1:
            out[path[0]] = value
        else:
            inner = dict(out[path[0]])
            inner[path[1]] = value
            out[path[0]] = inner
    return out


def kept_at(
    obj: Mapping[str, Any], paths: SecretPaths, stored: Iterable[Mapping[str, Any]]
) -> dict[FieldPath, str]:
    """The sealed values of ``obj`` that a ``stored`` document holds at the same place
    (sent back as shown, so kept sealed as they are)."""
    stored = list(stored)
    kept: dict[FieldPath, str] = {}
    for path, _style in paths:
        value = get_at(obj, path)
        if is_sealed(value) and any(get_at(s, path) == value for s in stored):
            kept[path] = value
    return kept


def seal_at(
    obj: Mapping[str, Any],
    paths: SecretPaths,
    ring: Keyring,
    kept: Mapping[FieldPath, str] | None = None,
    label: Callable[[str, str], str] | None = None,
) -> dict[str, Any]:
    """``obj`` with the values at ``paths`` sealed; the ``kept`` places get their stored
    value. ``label(style, plaintext)`` is the public label a sealed value carries."""
    kept = kept or {}
    sealed: dict[FieldPath, str] = {}
    for path, style in paths:
        if path in kept:
            sealed[path] = kept[path]
        else:
            plaintext = get_at(obj, path)
            sealed[path] = ring.seal(plaintext, label(style, plaintext) if label else "")
    return replaced(obj, sealed)


def open_at(
    obj: Mapping[str, Any], paths: SecretPaths, ring: Keyring, what: Callable[[FieldPath], str]
) -> dict[str, Any]:
    """``obj`` with the values at ``paths`` in clear. Raises SecretUnreadable naming the
    place as ``what(path)`` says, never the value."""
    return replaced(obj, {path: ring.open(get_at(obj, path), what(path)) for path, _ in paths})


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
