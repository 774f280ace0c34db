"""A database handle: the engine, plus schema management on first use."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from sqlalchemy import Connection, Engine

from tocsin.db.engine import NO_WAIT, READ_ONLY, WouldWait, make_engine, normalize_url
from tocsin.db.migrate import ensure_schema

__all__ = ["Database", "HeldConnection", "WouldWait", "open_database", "runs_inline"]

T = TypeVar("T")


class Database:
    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = normalize_url(url)
        self.engine = engine or make_engine(self.url)
        # SQLite has one writer at a time. Threads of this process queue for it here, in
        # arrival order, instead of in SQLite's busy handler, which sleeps in growing
        # steps and turns contention into long tail latencies. Other processes (the CLI
        # beside the service) still meet at SQLite's lock and its busy timeout.
        self._write_lock = threading.RLock() if self.is_sqlite else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def ensure_schema(self) -> None:
        ensure_schema(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A read-write transaction, committed on success."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def begin_no_wait(self) -> Iterator[Connection]:
        """A read-write transaction begun only if that needs no waiting: on SQLite, when
        no other thread of this process and no other process is writing. Otherwise, and
        always on PostgreSQL, ``WouldWait`` is raised before anything ran."""
        lock = self._write_lock
        if lock is None or not lock.acquire(blocking=False):
            raise WouldWait("another writer holds the lock")
        try:
            with (
                self.engine.connect() as conn,
                conn.execution_options(**{NO_WAIT: True}).begin(),
            ):
                yield conn
        finally:
            lock.release()

    async def write(self, work: Callable[[Connection], T], *, inline: bool = True) -> T:
        """``work(conn)`` in a read-write transaction, from async code.

        With ``inline`` (for short work), on SQLite, when the transaction can begin at
        once, it runs right here on the event loop: a few hundred microseconds of SQLite
        cost less than the hop to a worker thread and back. Otherwise it runs in a worker
        thread, where waiting for another writer blocks nothing else. ``work`` may raise
        ``WouldWait`` itself (e.g. on finding more to do than is short): its transaction
        is rolled back and it runs again in the thread, so it must not act outside it.
        """
        if inline and self._write_lock is not None:
            try:
                with self.begin_no_wait() as conn:
                    return work(conn)
            except WouldWait:
                pass

        def in_thread() -> T:
            with self.begin() as conn:
                return work(conn)

        return await asyncio.to_thread(in_thread)

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose statements each commit on their own (one round trip each
        on PostgreSQL; also what VACUUM needs)."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading (on SQLite, it does not take the write lock)."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    def hold(self) -> HeldConnection:
        """One connection kept open for a runtime's writes (see ``HeldConnection``)."""
        return HeldConnection(self)

    def dispose(self) -> None:
        self.engine.dispose()


class HeldConnection:
    """A connection a long-lived runtime keeps for its own writes, from one thread.

    Checking a connection out of the pool and back for each transaction (with the pool's
    event listeners) cost the embedded runtime more than the statements of a scheduled
    run did. A held connection pays that once; its transactions still queue for this
    process's SQLite write lock like every other writer's."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A read-write transaction on the held connection, committed on success."""
        lock = self._db._write_lock
        with lock if lock is not None else nullcontext():
            if self._conn is None:
                self._conn = self._db.engine.connect()
            try:
                with self._conn.begin():
                    yield self._conn
            except BaseException:
                # A connection a failed transaction may have left unusable is replaced.
                self.close()
                raise

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


def runs_inline(conn: Connection) -> bool:
    """Whether ``conn``'s transaction is one ``Database.write`` runs on the event loop."""
    return bool(conn.get_execution_options().get(NO_WAIT))


def open_database(url: str, *, migrate: bool = True) -> Database:
    db = Database(url)
    if migrate:
        db.ensure_schema()
    return db
