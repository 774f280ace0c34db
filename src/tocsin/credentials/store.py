"""The credentials table, always through one org."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, delete, insert, select, update

from tocsin.clock import utcnow
from tocsin.crypto import Keyring
from tocsin.crypto.keyring import keyring_for_engine
from tocsin.db.schema import credentials
from tocsin.errors import InvalidInput, NotFound

CREDENTIAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# Under the API's 64 KiB body limit even when every character is JSON-escaped.
MAX_VALUE_CHARS = 4096


class Credential(BaseModel):
    """What anyone may see of a credential: its name and when it changed. Never the value."""

    name: str
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def check_name(name: str, field: str = "name") -> str:
    if not CREDENTIAL_NAME.match(name):
        raise InvalidInput(
            field, "expected a name of letters, digits and _ (not starting with a digit)"
        )
    return name


def check_value(value: str, field: str = "value") -> str:
    if not value.strip():
        raise InvalidInput(field, "expected a value, got nothing")
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidInput(field, f"expected at most {MAX_VALUE_CHARS} characters")
    return value


def _keyring(conn: Connection) -> Keyring:
    return keyring_for_engine(conn.engine)


_COLUMNS = (credentials.c.name, credentials.c.created_at, credentials.c.updated_at)


class CredentialStore:
    def __init__(self, conn: Connection, org_id: uuid.UUID) -> None:
        self.conn = conn
        self.org_id = org_id

    def save(self, name: str, value: str) -> tuple[Credential, bool]:
        """Create or replace ``name``; also whether it was created."""
        check_name(name)
        sealed = _keyring(self.conn).seal(check_value(value))
        now = utcnow()
        changed = self.conn.execute(
            update(credentials)
            .where(credentials.c.org_id == self.org_id, credentials.c.name == name)
            .values(value_ciphertext=sealed, updated_at=now)
        ).rowcount
        if not changed:
            self.conn.execute(
                insert(credentials).values(
                    id=uuid.uuid4(),
                    org_id=self.org_id,
                    name=name,
                    value_ciphertext=sealed,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(name), not changed

    def get(self, name: str) -> Credential:
        row = self.conn.execute(
            select(*_COLUMNS).where(credentials.c.org_id == self.org_id, credentials.c.name == name)
        ).first()
        if row is None:
            raise NotFound("credential", name)
        return Credential.model_validate(row._asdict())

    def all(self) -> list[Credential]:
        rows = self.conn.execute(
            select(*_COLUMNS)
            .where(credentials.c.org_id == self.org_id)
            .order_by(credentials.c.name)
        )
        return [Credential.model_validate(r._asdict()) for r in rows]

    def delete(self, name: str) -> Credential:
        found = self.get(name)
        self.conn.execute(
            delete(credentials).where(
                credentials.c.org_id == self.org_id, credentials.c.name == name
            )
        )
        return found

    def existing(self, names: Iterable[str]) -> set[str]:
        wanted = set(names)
        if not wanted:
            return set()
        rows = self.conn.execute(
            select(credentials.c.name).where(
                credentials.c.org_id == self.org_id, credentials.c.name.in_(wanted)
            )
        )
        return {r.name for r in rows}


def open_credentials(conn: Connection, org_id: uuid.UUID, names: Iterable[str]) -> dict[str, str]:
    """The values of ``org_id``'s credentials among ``names``, opened for one fetch.

    Only ever called by the runner for the source that references them; a name of
    another org is simply not found."""
    wanted = set(names)
    if not wanted:
        return {}
    ring = _keyring(conn)
    rows = conn.execute(
        select(credentials.c.name, credentials.c.value_ciphertext).where(
            credentials.c.org_id == org_id, credentials.c.name.in_(wanted)
        )
    )
    return {r.name: ring.open(r.value_ciphertext, f"credential {r.name}") for r in rows}
