"""Database-wide work on sealed values: re-encrypting them all with the newest key
(``tocsin db rotate-key``), and sealing what a Supabase upgrade left in clear.

It reads every table that holds secrets, and knows which fields of actions and sources
are secret, so it sits above the stores (here, beside its only caller) rather than in
``tocsin.crypto``, which knows only the keyring.

A rotation runs in one transaction: every sealed value in ``alerts.action_config``,
``notification_deliveries.action``, ``metrics.source`` and ``credentials`` is opened
with any configured key and sealed again with the first one, or nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, select, update

from tocsin.alerts.actions.sealing import action_secret_paths, seal_action
from tocsin.crypto.fields import get_at, reseal_all
from tocsin.crypto.keyring import (
    EncryptionKeyError,
    Keyring,
    forget_keyrings,
    generate_key,
    is_sealed,
    key_file_for,
    read_key_file,
    write_key_file,
)
from tocsin.db.database import Database
from tocsin.db.schema import alerts, credentials, metrics, notification_deliveries
from tocsin.metrics.sealing import seal_source, source_secret_paths

_PAGE = 1000


def _reseal_text(value: Any, ring: Keyring) -> tuple[Any, int]:
    if is_sealed(value):
        return ring.reseal(value, "a stored credential"), 1
    return value, 0


def _reseal_column(
    conn: Connection,
    table: Table,
    column: Column[Any],
    reseal: Callable[[Any, Keyring], tuple[Any, int]],
    ring: Keyring,
) -> int:
    change = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({column.name: bindparam("b_new")})
    )
    total, last = 0, None
    while True:
        query = select(table.c.id, column).order_by(table.c.id).limit(_PAGE)
        if last is not None:
            query = query.where(table.c.id > last)
        rows = conn.execute(query).all()
        if not rows:
            return total
        changed = []
        for row_id, value in rows:
            new, count = reseal(value, ring)
            if count:
                total += count
                changed.append({"b_id": row_id, "b_new": new})
        if changed:
            conn.execute(change, changed)
        last = rows[-1][0]


def reseal_database(conn: Connection, ring: Keyring) -> int:
    """Every sealed value resealed with ``ring``'s first key; how many there were.

    Raises SecretUnreadable (and the caller's transaction rolls back) when a value
    opens with none of the keys."""
    return (
        _reseal_column(conn, alerts, alerts.c.action_config, reseal_all, ring)
        + _reseal_column(
            conn, notification_deliveries, notification_deliveries.c.action, reseal_all, ring
        )
        + _reseal_column(conn, metrics, metrics.c.source, reseal_all, ring)
        + _reseal_column(conn, credentials, credentials.c.value_ciphertext, _reseal_text, ring)
    )


def _plain_in_config(config: Any, ring: Keyring) -> tuple[Any, int]:
    actions = [config] if isinstance(config, dict) else config
    if not isinstance(actions, list):
        return config, 0
    out, total = [], 0
    for action in actions:
        if not isinstance(action, dict):
            out.append(action)
            continue
        paths = action_secret_paths(action)
        already = {p: v for p, _ in paths if is_sealed(v := get_at(action, p))}
        total += len(paths) - len(already)
        out.append(seal_action(action, ring, already))
    return (out[0] if isinstance(config, dict) else out), total


def _plain_in_source(source: Any, ring: Keyring) -> tuple[Any, int]:
    if not isinstance(source, dict):
        return source, 0
    paths = source_secret_paths(source)
    already = {p: v for p, _ in paths if is_sealed(v := get_at(source, p))}
    return seal_source(source, ring, already), len(paths) - len(already)


def seal_plain(conn: Connection, ring: Keyring) -> int:
    """Seal secrets still in clear (a database brought to 0006 by the Supabase SQL,
    which cannot seal); after 0006 every write seals, so nothing else is left plain."""
    return (
        _reseal_column(conn, alerts, alerts.c.action_config, _plain_in_config, ring)
        + _reseal_column(
            conn, notification_deliveries, notification_deliveries.c.action, _plain_in_config, ring
        )
        + _reseal_column(conn, metrics, metrics.c.source, _plain_in_source, ring)
    )


@dataclass(frozen=True)
class Rotation:
    resealed: int
    key_file: Path | None  # the file rotated, or None when TOCSIN_ENCRYPTION_KEY rules
    keys: int  # keys configured while resealing


def rotate(db: Database, env_value: str) -> Rotation:
    """Re-encrypt every stored secret with the newest key.

    With TOCSIN_ENCRYPTION_KEY the operator has put the new key first. With the key
    file, a new key is generated here: the file becomes "NEW,OLD..." (both open), the
    values are resealed in one transaction, then the file becomes "NEW". A crash at any
    step leaves every value readable with what the file holds."""
    if env_value.strip():
        ring = Keyring([k for k in (p.strip() for p in env_value.split(",")) if k])
        with db.begin() as conn:
            count = reseal_database(conn, ring)
        return Rotation(count, None, ring.size)
    path = key_file_for(db.url)
    if path is None:
        raise EncryptionKeyError(
            "nothing to rotate: set TOCSIN_ENCRYPTION_KEY (new key first, then the old "
            "ones, comma-separated) and run rotate-key again"
        )
    old = read_key_file(path)
    new = generate_key()
    write_key_file(path, [new, *old])
    forget_keyrings()
    ring = Keyring([new, *old])
    with db.begin() as conn:
        count = reseal_database(conn, ring)
    write_key_file(path, [new])
    forget_keyrings()
    return Rotation(count, path, ring.size)
