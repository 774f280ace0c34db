"""PostgreSQL keeps ``alert_history`` in monthly partitions, so a month past every
retention drops whole (a catalog change) instead of being deleted row by row.

A month's partition is ``alert_history_pYYYYMM``; rows outside every month created so
far land in ``alert_history_default`` and are moved into their month's partition when
upkeep creates it. Each partition has the parent's Row Level Security policy: Supabase's
Data API exposes every table in its schema, the partitions too, and a policy on the
parent only guards queries made through the parent. SQLite has one plain table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from sqlalchemy import Connection, text

from tocsin.db import rls

PARENT = "alert_history"
DEFAULT = f"{PARENT}_default"
# Months kept ready before they begin, so rows never wait on a partition.
AHEAD = 2
_NAME = re.compile(rf"^{PARENT}_p(\d{{4}})(\d{{2}})$")


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_from(first: date, count: int) -> list[date]:
    out = [first]
    while len(out) < count:
        out.append(next_month(out[-1]))
    return out


def partition_name(month: date) -> str:
    return f"{PARENT}_p{month.year:04d}{month.month:02d}"


def month_of_partition(name: str) -> date | None:
    found = _NAME.match(name)
    return date(int(found[1]), int(found[2]), 1) if found else None


def is_partition(name: str) -> bool:
    return name == DEFAULT or month_of_partition(name) is not None


def _bound(month: date) -> str:
    return f"'{month.isoformat()} 00:00:00+00'"


def _range(month: date) -> str:
    return f"FROM ({_bound(month)}) TO ({_bound(next_month(month))})"


def create_statements(month: date, parent: str = PARENT) -> list[str]:
    """DDL for one empty month's partition, with its policy (``parent``: the table as
    the migration builds it under another name)."""
    name = partition_name(month)
    return [
        f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES {_range(month)}",
        *rls.enable_statements(name),
    ]


def default_statements(parent: str = PARENT) -> list[str]:
    return [
        f"CREATE TABLE {DEFAULT} PARTITION OF {parent} DEFAULT",
        *rls.enable_statements(DEFAULT),
    ]


def existing(conn: Connection) -> set[str]:
    """The names of ``alert_history``'s partitions."""
    return set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:parent AS regclass)"
            ),
            {"parent": PARENT},
        ).scalars()
    )


def ensure_months(conn: Connection, months: Iterable[date]) -> list[str]:
    """Create each month's partition that does not exist yet, moving its rows out of the
    default partition first if some landed there; the names created."""
    have = existing(conn)
    made = []
    for month in sorted(set(months)):
        name = partition_name(month)
        if name in have:
            continue
        lo, hi = _bound(month), _bound(next_month(month))
        stray = conn.execute(
            text(
                f"SELECT EXISTS (SELECT 1 FROM {DEFAULT} "
                f"WHERE evaluated_at >= {lo} AND evaluated_at < {hi})"
            )
        ).scalar()
        if stray:
            # A partition cannot be created over rows the default holds: build it apart,
            # move them in, attach it (which checks the default holds none of its range).
            conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)"))
            conn.execute(
                text(
                    f"WITH moved AS (DELETE FROM {DEFAULT} WHERE evaluated_at >= {lo} "
                    f"AND evaluated_at < {hi} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
                )
            )
            conn.execute(
                text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {_range(month)}")
            )
            for statement in rls.enable_statements(name):
                conn.execute(text(statement))
        else:
            for statement in create_statements(month):
                conn.execute(text(statement))
        made.append(name)
    return made


def stray_months(conn: Connection) -> list[date]:
    """Months that have rows in the default partition."""
    found = conn.execute(
        text(f"SELECT DISTINCT date_trunc('month', evaluated_at AT TIME ZONE 'UTC') FROM {DEFAULT}")
    ).scalars()
    return sorted(date(m.year, m.month, 1) for m in found)


def drop_before(conn: Connection, cutoff: datetime) -> list[str]:
    """Drop each month's partition that ends at or before ``cutoff``; the names dropped."""
    dropped = []
    for name in sorted(existing(conn)):
        month = month_of_partition(name)
        if month is not None and datetime.combine(next_month(month), time(), UTC) <= cutoff:
            conn.execute(text(f"DROP TABLE {name}"))
            dropped.append(name)
    return dropped
