"""A SQL source must never read Tocsin's own database, whatever URL it is given.

Comparing URLs cannot work: ``localhost`` and ``127.0.0.1``, a symlink, a second user
or a pooler port all name the same data. So the check compares what the database itself
says it is, after connecting and before the query runs:

* PostgreSQL: the cluster's system identifier (``pg_control_system()``, shared by its
  streaming replicas, which hold the same rows) and the database name. Where a role may
  not read the identifier, the postmaster's start time and the database's OID stand in.
* SQLite: the file's device and inode, which a symlink or hard link cannot change.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tocsin.metrics.sources.base import SourceError

IDENTITY_SQL = (
    "SELECT current_database(), "
    "CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE') "
    "THEN (SELECT system_identifier::text FROM pg_control_system()) END, "
    "pg_postmaster_start_time()::text, "
    "(SELECT oid::text FROM pg_database WHERE datname = current_database())"
)


class PgIdentity(NamedTuple):
    database: str
    system_identifier: str | None
    started: str
    database_oid: str

    def same_as(self, other: PgIdentity) -> bool:
        if self.database != other.database:
            return False
        if self.system_identifier and other.system_identifier:
            return self.system_identifier == other.system_identifier
        return (self.started, self.database_oid) == (other.started, other.database_oid)


def pg_identity(cursor: Any) -> PgIdentity:
    cursor.execute(IDENTITY_SQL)
    db, sysid, started, oid = cursor.fetchone()
    return PgIdentity(str(db), None if sysid is None else str(sysid), str(started), str(oid))


_own_pg: dict[str, PgIdentity] = {}
_own_lock = threading.Lock()


def _own_pg_identity(url: str) -> PgIdentity:
    with _own_lock:
        found = _own_pg.get(url)
    if found is not None:
        return found
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                identity = pg_identity(cur)
            conn.rollback()
    finally:
        engine.dispose()
    with _own_lock:
        _own_pg[url] = identity
    return identity


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class OwnDatabaseGuard:
    """Refuses a connection that reaches ``own_url`` (None: nothing to protect)."""

    def __init__(self, own_url: str | None, field: str) -> None:
        self.field = field
        self.backend: str | None = None
        self.url = own_url
        if own_url:
            self.backend = make_url(own_url).get_backend_name()

    def _refuse(self) -> SourceError:
        return SourceError(
            f"{self.field}: the database URL leads to Tocsin's own database, which a "
            "metric can never query; point it at the database that holds your data"
        )

    def check_sqlite(self, path: str) -> None:
        if self.backend != "sqlite" or self.url is None:
            return
        own = make_url(self.url).database or ""
        if own in ("", ":memory:"):
            return
        mine = _file_identity(str(Path(own).expanduser().resolve()))
        if mine is not None and mine == _file_identity(path):
            raise self._refuse()

    def check_postgres(self, cursor: Any) -> None:
        if self.backend != "postgresql" or self.url is None:
            return
        if pg_identity(cursor).same_as(_own_pg_identity(self.url)):
            raise self._refuse()
