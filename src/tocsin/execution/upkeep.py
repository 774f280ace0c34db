"""Planner statistics of the tables every run writes (PostgreSQL).

A worker's statements are prepared, and after a few executions PostgreSQL keeps one
generic plan for each, made from the statistics of the moment. When those say a table
is empty (it was analysed before the first run: ``vacuumdb --analyze`` after installing
or upgrading PostgreSQL, a restore), the plan reads the whole table to find one row by
its key, and keeps doing so as the table grows: after 25,000 runs each run's two
statements took 0.7 ms instead of 0.1, and a burst ran 335 runs/s instead of 517
(bench/schedule.py's burst on one worker). ANALYZE replaces the statistics and with them
the cached plans. Autovacuum does that once a table has grown by a tenth, but only where
it is on, which it is not on every server; so the workers check every ten seconds.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from tocsin.db.database import Database

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
    "WHERE c.oid = ANY(CAST(:tables AS regclass[])) "
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
            if name in WATCHED_TABLES:  # only ever our own names in the statement
                conn.execute(text(f"ANALYZE {name}"))
    return outgrown
