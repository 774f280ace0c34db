"""A SQL query against a database whose URL is an org credential (or an allowed variable).

The URL is never stored with the metric: ``dsn_credential`` names a credential of the
metric's org (``tocsin credential set SHOP_DB``), ``dsn_env`` an environment variable the
operator allowed in ``TOCSIN_SOURCE_ENV_ALLOW``. Whatever the URL says, the query never
runs against Tocsin's own database: on PostgreSQL the target's system identifier and
database name are compared with Tocsin's after connecting, before the query; on SQLite
the file's device and inode.

The query runs read-only in a worker thread, bounded in time and in rows:

* PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout`` in a
  transaction that is always rolled back. The query runs through a server-side cursor
  (``DECLARE ... CURSOR FOR``), which holds exactly one query: ``COMMIT; DELETE ...``
  cannot step out of the read-only transaction, and only the rows we fetch cross the
  wire.
* SQLite: the file is opened with ``mode=ro`` plus ``PRAGMA query_only``; a progress
  handler interrupts the query at the deadline; ATTACH is refused, so a query cannot
  reach other files (Tocsin's own database among them).

The real security boundary for PostgreSQL is still the role in the URL: give Tocsin a
role that can only read what metrics need.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import re
import sqlite3
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import psycopg
from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from tocsin.db.engine import DatabaseUrlError, normalize_url
from tocsin.metrics.sources.base import (
    FetchContext,
    Reference,
    Source,
    SourceConfig,
    SourceError,
    register,
)
from tocsin.metrics.sources.own_database import OwnDatabaseGuard
from tocsin.metrics.sources.sql_values import to_json

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The thread may still be unwinding when the query's own timeout fires; give it this
# long before the event loop gives up on it.
_GRACE_SECONDS = 5.0
_MAX_ENGINES = 32
_CURSOR_NAME = "tocsin_metric"
_QUERY_KEYWORDS = frozenset({"select", "with", "values", "table"})
_SQLITE_DENIED = frozenset({sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH})
# How many SQLite VM instructions run between deadline checks: cheap, and fine-grained
# enough that a runaway query stops within milliseconds of its deadline.
_SQLITE_PROGRESS_STEPS = 10_000


class SqlConfig(SourceConfig):
    type: Literal["sql"] = "sql"
    sql: str = Field(min_length=1, max_length=20000)
    # A name, never the URL: the URL is a secret of the org (or of the operator).
    dsn_credential: str | None = None
    dsn_env: str | None = None
    max_rows: int = Field(default=1000, ge=1, le=100000)

    @field_validator("dsn_env", "dsn_credential")
    @classmethod
    def _name(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            if info.field_name == "dsn_env":
                raise ValueError(f"{value!r}: expected an environment variable name like DB_URL")
            raise ValueError(f"{value!r}: expected a credential name like SHOP_DB")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> SqlConfig:
        if (self.dsn_credential is None) == (self.dsn_env is None):
            raise ValueError(
                "expected dsn_credential (a credential of this org holding the database "
                "URL) or dsn_env, exactly one"
            )
        return self

    def references(self) -> list[Reference]:
        if self.dsn_credential is not None:
            return [Reference("source.dsn_credential", "credential", self.dsn_credential)]
        assert self.dsn_env is not None
        return [Reference("source.dsn_env", "env", self.dsn_env)]

    @field_validator("sql")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a query, got only blanks")
        return value


@register
class SqlSource(Source):
    type = "sql"
    Config = SqlConfig

    async def fetch(self, ctx: FetchContext) -> object:
        config = self.config
        assert isinstance(config, SqlConfig)
        (ref,) = config.references()
        if ref.kind == "credential":
            raw, label = ctx.credential(ref.name, ref.field), f"credential {ref.name}"
        else:
            raw, label = ctx.env(ref.name, ref.field), ref.name
        url = database_url(raw, label)
        timeout = config.timeout_seconds
        try:
            async with asyncio.timeout(timeout + _GRACE_SECONDS):
                return await asyncio.to_thread(
                    run_query,
                    url,
                    config.sql,
                    max_rows=config.max_rows,
                    timeout=timeout,
                    own_database_url=ctx.own_database_url,
                    field=ref.field,
                )
        except TimeoutError:
            raise _timed_out(timeout) from None


def database_url(raw: str, var: str) -> str:
    """The normalised URL ``raw`` (held in ``var``); errors name ``var``, never the URL."""
    raw = raw.strip()
    if not raw:
        raise SourceError(f"{var} is empty; it should hold the database URL")
    expected = "expected sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB"
    try:
        backend = make_url(raw).get_backend_name()
    except (ArgumentError, ValueError):
        raise SourceError(f"{var} does not hold a usable database URL ({expected})") from None
    if backend == "postgres":
        backend = "postgresql"
    if backend not in ("sqlite", "postgresql"):
        raise SourceError(f"{var} names an unsupported database {backend!r} ({expected})")
    try:
        return normalize_url(raw)
    except DatabaseUrlError:
        # Its message quotes the URL, password included.
        raise SourceError(f"{var} does not hold a usable database URL ({expected})") from None


def run_query(
    url: str,
    sql: str,
    *,
    max_rows: int,
    timeout: float,
    own_database_url: str | None = None,
    field: str = "source.dsn_credential",
) -> dict[str, Any]:
    """Run ``sql`` read-only (blocking); ``{"columns", "rows"}`` plus ``truncated``.

    Refused before the query runs when ``url`` reaches ``own_database_url``."""
    deadline = time.monotonic() + timeout
    parsed = make_url(url)
    guard = OwnDatabaseGuard(own_database_url, field)
    try:
        if parsed.get_backend_name() == "sqlite":
            columns, rows = _run_sqlite(parsed, sql, max_rows + 1, deadline, timeout, guard)
        else:
            columns, rows = _run_postgres(url, sql, max_rows + 1, deadline, timeout, guard)
    except SourceError as exc:
        raise SourceError(_scrub(exc.message, parsed), timed_out=exc.timed_out) from None
    result: dict[str, Any] = {
        "columns": columns,
        "rows": [[to_json(v) for v in row] for row in rows[:max_rows]],
    }
    if len(rows) > max_rows:
        result["truncated"] = True
    return result


def _timed_out(timeout: float) -> SourceError:
    return SourceError(f"query timed out after {timeout:g}s", timed_out=True)


def _scrub(message: str, url: URL) -> str:
    # Driver messages can echo parts of the connection string.
    for secret in (url.render_as_string(hide_password=False), url.password):
        if secret:
            message = message.replace(str(secret), "***")
    return message


# --- engines -------------------------------------------------------------------------

_engines: OrderedDict[str, Engine] = OrderedDict()
_engines_lock = threading.Lock()
# libpq's connect_timeout for the fetch running in this thread: what is left of its budget.
_connect_budget: contextvars.ContextVar[float] = contextvars.ContextVar(
    "tocsin_sql_connect_budget", default=10.0
)


def _engine(key: str, make: Callable[[], Engine]) -> Engine:
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            _engines.move_to_end(key)
            return engine
        engine = _engines[key] = make()
        if len(_engines) > _MAX_ENGINES:
            _, oldest = _engines.popitem(last=False)
            oldest.dispose()
        return engine


def dispose_engines() -> None:
    """Close every cached connection pool (shutdown, tests)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def _make_postgres_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        pool_size=2,
        max_overflow=8,
        pool_pre_ping=True,
        pool_recycle=600,
        connect_args={
            # Server-side prepared statements break behind transaction poolers
            # (Supabase's pgbouncer/supavisor on port 6543).
            "prepare_threshold": None,
            "application_name": "tocsin-metric",
        },
    )

    @event.listens_for(engine, "do_connect")
    def _connect_timeout(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        # libpq treats values below 2 as 2.
        cparams["connect_timeout"] = max(2, math.ceil(_connect_budget.get()))

    return engine


def _make_sqlite_engine(path: str) -> Engine:
    uri = f"file:{urllib.parse.quote(path)}?mode=ro"

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)

    # Opening a file is cheap, and a fresh connection per fetch leaves no handler or
    # pragma of one fetch behind for the next.
    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


# --- PostgreSQL ----------------------------------------------------------------------


def _run_postgres(
    url: str, sql: str, limit: int, deadline: float, timeout: float, guard: OwnDatabaseGuard
) -> tuple[list[str], list[Any]]:
    engine = _engine(url, lambda: _make_postgres_engine(url))
    _connect_budget.set(max(0.0, deadline - time.monotonic()))
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            trans = conn.begin()
            try:
                remaining_ms = int((deadline - time.monotonic()) * 1000)
                if remaining_ms <= 0:
                    raise _timed_out(timeout)
                with raw.cursor() as cur:
                    cur.execute("SET TRANSACTION READ ONLY")
                    cur.execute(f"SET LOCAL statement_timeout = {remaining_ms}")
                    guard.check_postgres(cur)
                # Raw DBAPI cursor: SQLAlchemy would pass an empty parameter list,
                # making psycopg read every '%' in the query as a placeholder.
                with raw.cursor(name=_CURSOR_NAME) as cur:
                    cur.execute(sql)
                    columns = [d.name for d in cur.description or ()]
                    rows = cur.fetchmany(limit)
                return columns, rows
            finally:
                trans.rollback()
    except psycopg.Error as exc:
        raise _postgres_error(exc, sql, timeout) from None
    except DBAPIError as exc:
        if isinstance(exc.orig, psycopg.Error):
            raise _postgres_error(exc.orig, sql, timeout) from None
        raise SourceError(f"database error: {_first_line(str(exc.orig))}") from None
    except SQLAlchemyError as exc:
        raise SourceError(f"database error: {type(exc).__name__}") from None


def _postgres_error(exc: Any, sql: str, timeout: float) -> SourceError:
    state = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    # The primary message only: the "LINE 1: DECLARE ..." context shows our cursor
    # wrapper, not the user's query.
    primary = (getattr(diag, "message_primary", None) or _first_line(str(exc))).strip()
    if state == "57014":
        return _timed_out(timeout)
    if state is None:
        return SourceError(f"could not connect to the database: {primary}")
    if state in ("42601", "0A000") and (
        _first_keyword(sql) not in _QUERY_KEYWORDS or "multiple commands" in primary
    ):
        return SourceError(
            "only one read-only query (SELECT, WITH, VALUES or TABLE) can run; "
            f"the database said: {primary}"
        )
    if state == "0A000" and "data-modifying" in primary:
        return SourceError(f"the query must not modify data: {primary}")
    hint = getattr(diag, "message_hint", None)
    return SourceError(f"query failed: {primary}" + (f" (hint: {hint})" if hint else ""))


def _first_keyword(sql: str) -> str:
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL).lstrip(" \t\r\n(")
    match = re.match(r"[A-Za-z]+", text)
    return match.group(0).lower() if match else ""


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


# --- SQLite --------------------------------------------------------------------------


def _sqlite_authorizer(action: int, *_args: Any) -> int:
    return sqlite3.SQLITE_DENY if action in _SQLITE_DENIED else sqlite3.SQLITE_OK


def _run_sqlite(
    url: URL, sql: str, limit: int, deadline: float, timeout: float, guard: OwnDatabaseGuard
) -> tuple[list[str], list[Any]]:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise SourceError("expected a SQLite file URL such as sqlite:///path/to/data.db")
    path = str(Path(database).expanduser().resolve())
    guard.check_sqlite(path)
    engine = _engine(f"sqlite:{path}", lambda: _make_sqlite_engine(path))
    interrupted = False

    def past_deadline() -> int:
        nonlocal interrupted
        interrupted = time.monotonic() > deadline
        return 1 if interrupted else 0

    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                raise _timed_out(timeout)
            raw.execute("PRAGMA query_only = ON")
            raw.execute(f"PRAGMA busy_timeout = {remaining_ms}")
            raw.set_authorizer(_sqlite_authorizer)
            raw.set_progress_handler(past_deadline, _SQLITE_PROGRESS_STEPS)
            try:
                cur = raw.cursor()
                try:
                    cur.execute(sql)
                    columns = [d[0] for d in cur.description or ()]
                    rows = cur.fetchmany(limit)
                finally:
                    cur.close()
            finally:
                raw.set_progress_handler(None, 0)
                raw.set_authorizer(None)
            return columns, rows
    except (sqlite3.Error, DBAPIError) as exc:
        if interrupted:
            raise _timed_out(timeout) from None
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        message = _first_line(str(orig))
        if "unable to open database file" in message:
            raise SourceError("could not open the SQLite database file (does it exist?)") from None
        if "not authorized" in message:
            message += " (ATTACH and DETACH are not allowed)"
        raise SourceError(f"query failed: {message}") from None
