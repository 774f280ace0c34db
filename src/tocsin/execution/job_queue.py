"""Procrastinate's job table on PostgreSQL: how to reach it (``libpq_conninfo``), whether
it is there, and creating it with Tocsin's index on it (``apply_procrastinate_schema``).
Keeping its statistics fresh is :mod:`tocsin.execution.upkeep`."""

from __future__ import annotations

import psycopg
from procrastinate.schema import SchemaManager
from sqlalchemy.engine import make_url

from tocsin.db.engine import normalize_url

# Serialises concurrent `tocsin db upgrade` runs around the "is the schema there?" check.
_SCHEMA_LOCK_KEY = 0x70C5_1A_0001

# Procrastinate's fetch skips a queued job whose ``lock`` another queued or running job
# holds, looking the lock up for each candidate. Its own index for that is on (id,
# lock), where a lock is no prefix: every fetch read the whole index (EXPLAIN ANALYZE
# with 10,000 metric runs queued, a burst: the check 0.18 ms, the fetch 0.23; with this
# index 0.005 and 0.04), and a worker fetches one job at a time (upstream: procrastinate
# issues #393, #1242). Only jobs with a lock (metric runs) are in it, so the other jobs
# pay nothing to keep it.
JOB_LOCK_INDEX = (
    "CREATE INDEX IF NOT EXISTS tocsin_procrastinate_jobs_lock_idx "
    "ON procrastinate_jobs (lock) "
    "WHERE status IN ('todo', 'doing') AND lock IS NOT NULL"
)


def libpq_conninfo(database_url: str) -> str:
    """The libpq URI for a database URL in any form Tocsin accepts (psycopg wants no
    SQLAlchemy driver suffix)."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() != "postgresql":
        raise ValueError("the distributed runtime needs PostgreSQL")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def has_procrastinate_schema(database_url: str) -> bool:
    with psycopg.connect(libpq_conninfo(database_url), autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        return row is not None and row[0] is not None


def apply_procrastinate_schema(database_url: str) -> bool:
    """Create Procrastinate's tables and functions unless they exist, and Tocsin's index
    on them (``JOB_LOCK_INDEX``) unless it exists; True if it created the tables.

    Procrastinate's own schema is not part of Tocsin's Alembic tree: it comes with the
    installed Procrastinate version. Upgrading Procrastinate across schema changes needs
    its migrations (``procrastinate/sql/migrations``), which this does not apply.
    """
    with psycopg.connect(libpq_conninfo(database_url)) as conn:
        # Two upgrades at once would both see no table and the second would fail.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        created = row is None or row[0] is None
        if created:
            # No parameters: the schema's '%' signs must reach the server untouched.
            conn.execute(SchemaManager.get_schema())
        # Also on a queue created before Tocsin added it.
        conn.execute(JOB_LOCK_INDEX)
    return created
