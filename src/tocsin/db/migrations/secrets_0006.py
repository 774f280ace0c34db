"""What revision 0006 seals and opens: the secret fields of actions and sources as they
were when the revision was written.

A migration must do the same whenever it runs, so it does not follow the channels'
current ``secret_fields`` (``tocsin.alerts.actions.sealing``) or the sources' current
rule (``tocsin.metrics.sealing``): a field made secret later is sealed when it is
written, and was never stored in clear before 0006. Keeping the list here also keeps
``db`` below the stores that import it. Sealing itself is ``tocsin.crypto``'s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tocsin.crypto.fields import SecretPaths, open_at, seal_at, secret_paths
from tocsin.crypto.keyring import Keyring
from tocsin.http import redact_url

# Per action type, each secret key and its style (``mapping``: every value inside it).
_ACTION_SECRETS: dict[str, dict[str, str]] = {
    "slack": {"url": "url"},
    "webhook": {"url": "url", "secret": "value", "headers": "mapping"},
    "pagerduty": {"routing_key": "value"},
}
# A header value that is exactly one reference holds no secret.
_REFERENCE = re.compile(r"^\$\{(?:cred:)?[A-Za-z_][A-Za-z0-9_]*\}$|^\$[A-Za-z_][A-Za-z0-9_]*$")


def _action_paths(action: Mapping[str, Any]) -> SecretPaths:
    kind = action.get("type")
    return secret_paths(action, _ACTION_SECRETS.get(kind, {}) if isinstance(kind, str) else {})


def _url_label(style: str, plaintext: str) -> str:
    shown = redact_url(plaintext) if style == "url" else ""
    return "" if shown.startswith("<") else shown


def _is_secret_header(value: object) -> bool:
    return not (isinstance(value, str) and _REFERENCE.match(value))


def seal_action(action: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    return seal_at(action, _action_paths(action), ring, label=_url_label)


def open_action(action: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    kind = action.get("type")
    what = f"the {kind} action's "
    return open_at(action, _action_paths(action), ring, lambda path: what + path[0])


def seal_source(source: Mapping[str, Any], ring: Keyring) -> dict[str, Any]:
    headers = source.get("headers")
    paths: SecretPaths = [
        (("headers", k), "value")
        for k, v in (headers.items() if isinstance(headers, Mapping) else ())
        if isinstance(v, str) and _is_secret_header(v)
    ]
    return seal_at(source, paths, ring)


def open_header(name: str, value: str, ring: Keyring) -> str:
    return ring.open(value, f"header {name}") if _is_secret_header(value) else value
