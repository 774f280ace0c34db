"""Which fields of a metric source are secret, and sealing/opening them (docs/security.md).

Every source header value is secret unless it is a pure reference (``${VAR}``, ``$VAR``,
``${cred:NAME}``): those are resolved at fetch time and hold no secret themselves. As
for actions (``tocsin.alerts.actions.sealing``), input is always sealed, except a value
that is byte for byte what the stored metric holds at the same place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tocsin.crypto.fields import FieldPath, SecretPaths, kept_at, open_at, seal_at
from tocsin.crypto.keyring import Keyring

_REFERENCE = re.compile(r"^\$\{(?:cred:)?[A-Za-z_][A-Za-z0-9_]*\}$|^\$[A-Za-z_][A-Za-z0-9_]*$")


def is_secret_header(value: object) -> bool:
    """A source header value is secret unless it is exactly one reference."""
    return not (isinstance(value, str) and _REFERENCE.match(value))


def source_secret_paths(source: Mapping[str, Any]) -> SecretPaths:
    headers = source.get("headers")
    if not isinstance(headers, Mapping):
        return []
    return [
        (("headers", k), "value")
        for k, v in headers.items()
        if isinstance(v, str) and is_secret_header(v)
    ]


def kept_in_source(
    source: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[FieldPath, str]:
    if stored is None:
        return {}
    return kept_at(source, source_secret_paths(source), [stored])


def seal_source(
    source: Mapping[str, Any], ring: Keyring, kept: Mapping[FieldPath, str] | None = None
) -> dict[str, Any]:
    return seal_at(source, source_secret_paths(source), ring, kept)


def open_header(name: str, value: str, ring: Keyring) -> str:
    """One stored source header value in clear (a reference stays as it is)."""
    if not is_secret_header(value):
        return value
    return ring.open(value, f"header {name}")


def open_source(source: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    """A stored source with its header values in clear, for the run that fetches it.

    Raises SecretUnreadable (naming the header, never the value)."""
    return open_at(source, source_secret_paths(source), ring, lambda path: f"header {path[1]}")
