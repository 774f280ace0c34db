"""Engines for the embedded SQLite file and for PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tocsin.db.liveness import ping_when_idle


class DatabaseUrlError(ValueError):
    """The database URL cannot be used."""


def normalize_url(url: str) -> str:
    """Accept URLs as users get them (Supabase hands out ``postgres://``)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"database URL {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseUrlError(
            f"database URL: unsupported engine {parsed.get_backend_name()!r}; "
            "expected sqlite or postgresql"
        )
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(url: str) -> bool:
    return normalize_url(url).startswith("sqlite")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the service and CLI processes share one file; the busy timeout
    # makes a writer wait for another instead of failing at once.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # An evaluation of thousands of alerts dirties more pages than SQLite's default 2 MiB
    # cache holds, which then spill to the WAL mid-transaction; and the default
    # checkpoint every 1,000 WAL pages ran after nearly every such commit, copying the
    # same alert pages back each time. 64 MiB (used only as needed) and a checkpoint
    # every 10,000 pages (40 MiB of WAL, kept at most 64 MiB on disk): 30 evaluations of
    # 10,000 alerts took 455 ms each, now 378 (bench/evaluate.py's workload).
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.execute("PRAGMA journal_size_limit=67108864")
    cur.close()


READ_ONLY = "tocsin_read_only"
NO_WAIT = "tocsin_no_wait"
_BUSY_TIMEOUT_MS = 10000


class WouldWait(Exception):
    """A write transaction could not begin without waiting for another writer."""


def _sqlite_begin(conn: Any) -> None:
    options = conn.get_execution_options()
    if options.get(READ_ONLY):
        # A reader takes a WAL snapshot and never blocks or waits for writers.
        conn.exec_driver_sql("BEGIN")
        return
    if options.get(NO_WAIT):
        # Another process holding the write lock makes BEGIN fail at once instead of
        # sleeping in the busy handler; the caller then waits elsewhere. Straight on the
        # driver's connection: three statements through SQLAlchemy cost more than the
        # short transaction this begins, and any failure here is only WouldWait.
        raw = conn.connection.driver_connection
        raw.execute("PRAGMA busy_timeout=0")
        try:
            raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise WouldWait(str(exc)) from exc
        finally:
            raw.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        return
    # BEGIN IMMEDIATE takes the write lock up front, so a read-then-write
    # transaction never dies on a lock upgrade half-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": 10, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        # pysqlite's own transaction handling would defer BEGIN; take it over.
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine)
    return engine
