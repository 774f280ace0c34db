"""Checking pooled PostgreSQL connections only when they may have gone stale.

A ping on every checkout (SQLAlchemy's ``pool_pre_ping``, psycopg_pool's
``check_connection``) is a round trip per transaction: a scheduled run took two of them,
and a worker's two job-queue calls two more. A connection handed back to the pool a
moment ago is as alive as the ping would show, so only one idle for longer than
``IDLE_CHECK_SECONDS`` is pinged. A connection the server dropped within that window
fails its next statement instead; SQLAlchemy then invalidates the whole pool and the
worker's job queue reconnects, so one operation fails after a database restart, not
every one.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

IDLE_CHECK_SECONDS = 2.0
_IDLE_SINCE = "tocsin_idle_since"


def ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling for ``engine``, pinging idle connections only."""

    @event.listens_for(engine, "checkin")
    def _stamp(dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        # A connection just opened (no stamp yet) needs no ping either.
        if since is None or time.monotonic() - since < IDLE_CHECK_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out another.
            raise DisconnectionError(f"stale connection: {exc}") from exc


_returned: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
    weakref.WeakKeyDictionary()
)


async def _stamp_returned(conn: psycopg.AsyncConnection[Any]) -> None:
    _returned[conn] = time.monotonic()


async def _check_if_idle(conn: psycopg.AsyncConnection[Any]) -> None:
    since = _returned.get(conn)
    if since is not None and time.monotonic() - since < IDLE_CHECK_SECONDS:
        return
    await AsyncConnectionPool.check_connection(conn)


def idle_checked_pool(**kwargs: Any) -> AsyncConnectionPool[Any]:
    """A psycopg pool (for Procrastinate's ``pool_factory``) that checks connections on
    checkout only after they idled; whatever ``check`` the caller asked for is replaced."""
    kwargs["check"] = _check_if_idle
    kwargs["reset"] = _stamp_returned
    return AsyncConnectionPool(**kwargs)
