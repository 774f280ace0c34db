"""A database handle: the engine, plus schema management on first use."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from tocsin.db.engine import READ_ONLY, make_engine, normalize_url
from tocsin.db.migrate import ensure_schema


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
    def connect(self) -> Iterator[Connection]:
        """A connection for reading (on SQLite, it does not take the write lock)."""
        with self.engine.connect() as conn:
            yield conn.execution_options(**{READ_ONLY: True})

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, migrate: bool = True) -> Database:
    db = Database(url)
    if migrate:
        db.ensure_schema()
    return db
