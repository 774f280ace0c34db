"""API keys: ``tsn_<prefix>_<secret>``, scoped to one org, stored only as a hash.

The prefix is public (it is shown by ``tocsin apikey list`` and finds the row by a unique
index); the secret never is. Keys carry 256 random bits, so a single SHA-256 is enough:
slow password hashes exist to protect guessable secrets, and here they would only put a
key-derivation cost on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Row, bindparam, insert, select, update

from tocsin.clock import utcnow
from tocsin.db.schema import api_keys
from tocsin.errors import InvalidInput, NotFound
from tocsin.metrics.store import as_uuid
from tocsin.roles import DEFAULT_ROLE, Role, as_role, parse_role

KEY_SCHEME = "tsn"
MAX_KEY_NAME = 100
_KEY = re.compile(r"^tsn_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
# Recording every use would turn each read request into a write; a minute's precision
# is what "last used" is for (spotting keys nobody uses).
TOUCH_INTERVAL = timedelta(seconds=60)
# Compared against when no row matches, so a miss costs the same as a wrong secret.
_DUMMY_HASH = hashlib.sha256(b"tocsin-no-such-key").hexdigest()


class ApiKey(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _row(row: Row[Any]) -> ApiKey:
    data = row._asdict()
    data.pop("key_hash", None)
    data["role"] = as_role(str(data.get("role", "")))
    return ApiKey.model_validate(data)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    match = _KEY.match(key)
    return match.group(1) if match else None


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = secrets.token_hex(6)
    return f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def create_api_key(
    conn: Connection, org_id: uuid.UUID, name: str, role: str = DEFAULT_ROLE
) -> tuple[ApiKey, str]:
    """Store a new key for ``org_id`` with ``role``; returns the row and the key (shown
    once)."""
    found_role = parse_role(role)
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME:
        raise InvalidInput("name", f"expected a name of 1 to {MAX_KEY_NAME} characters")
    key, prefix = new_key()
    key_id = uuid.uuid4()
    conn.execute(
        insert(api_keys).values(
            id=key_id,
            org_id=org_id,
            name=name,
            prefix=prefix,
            key_hash=hash_key(key),
            role=found_role,
            created_at=utcnow(),
        )
    )
    return get_api_key(conn, org_id, key_id), key


def list_api_keys(conn: Connection, org_id: uuid.UUID) -> list[ApiKey]:
    rows = conn.execute(
        select(api_keys)
        .where(api_keys.c.org_id == org_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    )
    return [_row(r) for r in rows]


def get_api_key(conn: Connection, org_id: uuid.UUID, ref: str | uuid.UUID) -> ApiKey:
    """A key of ``org_id`` by id or prefix."""
    query = select(api_keys).where(api_keys.c.org_id == org_id)
    ident = as_uuid(ref)
    if ident is not None:
        query = query.where(api_keys.c.id == ident)
    else:
        query = query.where(api_keys.c.prefix == str(ref).strip())
    row = conn.execute(query).first()
    if row is None:
        raise NotFound("api key", str(ref))
    return _row(row)


def revoke_api_key(conn: Connection, org_id: uuid.UUID, ref: str | uuid.UUID) -> ApiKey:
    """Revoke a key (id or prefix); revoking twice keeps the first revocation time."""
    found = get_api_key(conn, org_id, ref)
    if found.revoked_at is None:
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == found.id, api_keys.c.org_id == org_id)
            .values(revoked_at=utcnow())
        )
        KeyCache.revoked()
    return get_api_key(conn, org_id, found.id)


# Built once: every request authenticates.
_BY_PREFIX = select(api_keys).where(api_keys.c.prefix == bindparam("prefix"))


def authenticate(conn: Connection, key: str, *, touch: bool = True) -> ApiKey | None:
    """The live key matching ``key``, or None (unknown, malformed, wrong or revoked).

    With ``touch``, ``last_used_at`` is refreshed when it is stale (a write)."""
    prefix = parse_key(key.strip())
    row = None
    if prefix is not None:
        row = conn.execute(_BY_PREFIX, {"prefix": prefix}).first()
    stored = row.key_hash if row is not None else _DUMMY_HASH
    matches = hmac.compare_digest(stored.encode(), hash_key(key.strip()).encode())
    if row is None or not matches or row.revoked_at is not None:
        return None
    found = _row(row)
    if touch and needs_touch(found):
        touch_key(conn, found.id)
    return found


def needs_touch(key: ApiKey) -> bool:
    return key.last_used_at is None or utcnow() - key.last_used_at >= TOUCH_INTERVAL


def touch_key(conn: Connection, key_id: uuid.UUID) -> None:
    conn.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(last_used_at=utcnow())
    )


# How long a key that authenticated stays trusted without reading its row again. A key
# revoked by this process is refused at once; one revoked by another process (the CLI
# beside `tocsin serve`) is refused within this many seconds.
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_SIZE = 1024


class KeyCache:
    """Keys that authenticated recently, by the hash of the presented key.

    Only successes are kept: an unknown or wrong key always costs a database read, as
    before. Revoking a key in this process forgets every cached key (revocations are
    rare), including what a read already under way is about to store.
    """

    _generation = 0

    def __init__(
        self,
        seconds: float = KEY_CACHE_SECONDS,
        *,
        size: int = KEY_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self._keys: dict[str, tuple[ApiKey, float, int]] = {}

    @classmethod
    def revoked(cls) -> None:
        cls._generation += 1

    def stamp(self) -> int:
        """Taken before the database read whose result ``put`` will store."""
        return KeyCache._generation

    def get(self, key_hash: str) -> ApiKey | None:
        found = self._keys.get(key_hash)
        if found is None:
            return None
        key, until, generation = found
        if generation != KeyCache._generation or self.clock() >= until:
            self._keys.pop(key_hash, None)
            return None
        return key

    def put(self, key_hash: str, key: ApiKey, stamp: int) -> None:
        if stamp != KeyCache._generation:
            return
        if len(self._keys) >= self.size:
            self._keys.clear()
        self._keys[key_hash] = (key, self.clock() + self.seconds, stamp)
