"""What a metric source names (credentials, environment variables), checked on save.

A source may name only a credential of its own org, or a variable the operator allowed
in ``TOCSIN_SOURCE_ENV_ALLOW``; anything else is bad input on the field that names it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Connection

from tocsin.credentials import CredentialStore
from tocsin.errors import InvalidInput
from tocsin.metrics.sources.base import Reference, env_refusal
from tocsin.settings import Settings


def check_references(
    conn: Connection, org_id: uuid.UUID, refs: Iterable[Reference], settings: Settings
) -> None:
    """Refuse a source that names a credential its org lacks or a variable not allowed."""
    refs = list(refs)
    known = CredentialStore(conn, org_id).existing(r.name for r in refs if r.kind == "credential")
    problems: list[tuple[str, str]] = []
    for ref in refs:
        if ref.kind == "credential" and ref.name not in known:
            problems.append(
                (
                    ref.field,
                    f"no credential named {ref.name} in this org; create it first with "
                    f"`tocsin credential set {ref.name}` (or POST /api/v1/credentials)",
                )
            )
        elif ref.kind == "env" and not settings.env_allowed(ref.name):
            problems.append((ref.field, env_refusal(ref.name)))
    if problems:
        raise InvalidInput(problems[0][0], problems[0][1], more=problems[1:])
