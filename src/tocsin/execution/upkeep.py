"""Upkeep of the tables the distributed runtime works in (PostgreSQL): Procrastinate's
job table, vacuumed and analysed as bursts of runs pass through it, and Tocsin's own
tables, re-analysed as they grow (``analyze_outgrown_tables``).

Why Tocsin's tables too: a worker's statements are prepared, and after a few executions
PostgreSQL keeps one generic plan for each, made from the statistics of the moment. When
those say a table is empty (it was analysed before the first run: ``vacuumdb --analyze``
after installing or upgrading PostgreSQL, a restore), the plan reads the whole table to
find one row by its key, and keeps doing so as the table grows: after 25,000 runs each
run's two statements took 0.7 ms instead of 0.1, and a burst ran 335 runs/s instead of
517 (bench/schedule.py's burst on one worker). ANALYZE replaces the statistics and with
them the cached plans. Autovacuum does that once a table has grown by a tenth, but only
where it is on, which it is not on every server; so the workers check every ten seconds.
"""

from __future__ import annotations

import logging

import procrastinate
import psycopg
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import Text

from tocsin.db import partitions
from tocsin.db.database import Database
from tocsin.execution.job_queue import libpq_conninfo

logger = logging.getLogger("tocsin.worker")

# A tick that defers this many more jobs than the job table's statistics count (twice
# over) refreshes them: see analyse_queue_if_outgrown.
ANALYZE_SLACK = 100

# Tables whose size changes with every run, or with the user's setup.
WATCHED_TABLES = (
    "metric_executions",
    "alert_history",
    "notification_deliveries",
    "metrics",
    "alerts",
)

# Autovacuum's own rule and settings (threshold + scale factor x rows it knows of), on
# the change in size rather than on modified rows: updates that leave a table's size
# alone do not make its plans wrong (the scheduler updates every metric each minute).
_OUTGROWN = text(
    "SELECT c.relname FROM pg_class AS c JOIN pg_stat_user_tables AS s ON s.relid = c.oid "
    "WHERE (c.oid = ANY(CAST(:tables AS regclass[])) OR c.oid IN (SELECT inhrelid FROM "
    "pg_inherits WHERE inhparent = ANY(CAST(:tables AS regclass[])))) "
    "AND abs(s.n_live_tup - greatest(c.reltuples, 0)) > "
    "current_setting('autovacuum_analyze_threshold')::float8 "
    "+ current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0) "
    "ORDER BY c.relname"
).bindparams(bindparam("tables", type_=ARRAY(Text)))


def analyze_outgrown_tables(db: Database) -> list[str]:
    """ANALYZE each watched table whose size has moved away from what its statistics
    say; the names of those it analysed."""
    with db.autocommit() as conn:
        outgrown = list(conn.execute(_OUTGROWN, {"tables": list(WATCHED_TABLES)}).scalars())
        for name in outgrown:
            # Only ever our own names in the statement: a watched table or a partition of
            # history (tocsin.db.partitions), whose statistics are its own.
            if name in WATCHED_TABLES or partitions.is_partition(name):
                conn.execute(text(f"ANALYZE {name}"))
    return outgrown


def analyze_job_queue(database_url: str) -> None:
    """Fresh planner statistics for the job table before the first fetch (see
    ``analyze_queue``); a worker starting into a backlog otherwise fetches on a stale
    plan until the first periodic ANALYZE."""
    try:
        with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as conn:
            conn.execute("ANALYZE procrastinate_jobs")
    except psycopg.Error as exc:
        # Not fatal: the periodic task analyses it again within seconds.
        logger.warning("could not analyse the job queue at start-up: %s", exc)


async def analyse_queue_if_outgrown(app: procrastinate.App, deferred: int) -> bool:
    """ANALYZE the job table when this tick grew it well past what its statistics say.

    With statistics from a near-empty table, PostgreSQL plans Procrastinate's fetch as
    an anti-join over every queued job, sorted afterwards: each fetch then takes about a
    second with 3,000 jobs queued (seen in bench/schedule.py's burst, where every metric
    comes due at once), and a worker fetches one job at a time. The periodic
    ``analyze_queue`` comes too late: its own job waits behind those slow fetches.
    """
    believed = await app.connector.execute_query_one_async(
        "SELECT reltuples FROM pg_class WHERE oid = 'procrastinate_jobs'::regclass"
    )
    if deferred <= 2 * max(float(believed["reltuples"]), 0.0) + ANALYZE_SLACK:
        return False
    await app.connector.execute_query_async("ANALYZE procrastinate_jobs")
    return True


def vacuum_job_queue(db: Database) -> None:
    """VACUUM the job table (once a second, from the tick).

    Every finished job leaves dead rows and index entries behind, and a worker's fetch
    walks past them one job at a time: after a few minutes at 167 jobs/s, fetches took
    3-7 ms and a burst ran at 240-340 runs/s; with the table vacuumed every second,
    about 25% faster (bench/schedule.py, three pairs). Autovacuum waits for a fifth of
    the table to be dead, which a table this small and this busy is within a second.
    SKIP_LOCKED: another VACUUM (autovacuum's, another cluster's tick) already on it is
    enough.
    """
    try:
        with db.autocommit() as conn:
            conn.execute(text("VACUUM (SKIP_LOCKED) procrastinate_jobs"))
    except DBAPIError as exc:
        # Not fatal (autovacuum still runs), and the claim is already committed.
        logger.warning("could not vacuum the job queue: %s", exc.orig or exc)
