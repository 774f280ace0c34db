"""A simulated month of one 1,000-series alert: the history table's size, the alert
page's time (against the same page with one run of history, in the same run), and what
retention's prune takes to catch up a day of quiet evaluations.

    .venv/bin/python -m bench.retention [--db sqlite,postgresql] [--series 1000]
        [--every 60] [--days 31] [--requests 20]

Each series is evaluated every ``--every`` seconds; twice a day each one fires and
resolves (both sent), the rest are quiet evaluations - the rows TOCSIN_HISTORY_RETENTION
lets go. Rows are written in bulk by SQL (what a month of runs would have left, not the
runs themselves: bench/evaluate.py measures those).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import datetime, timedelta

import httpx
from sqlalchemy import func, select, text

from bench.common import databases
from bench.ui import server, timings
from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.db import partitions
from tocsin.db.database import Database
from tocsin.db.retention import Retention, prune
from tocsin.db.schema import alert_history
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

DAY = 86_400


def seed(db: Database, series: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A pushed metric with ``series`` services and an alert over it, evaluated once."""
    with db.begin() as conn:
        org = get_or_create_org(conn, "default")  # the org the UI serves on loopback
        metric = MetricStore(conn, org).create(
            {"name": "Errors by service", "source": {"type": "push"}}
        )
        alert = AlertStore(conn, org).create_alert(
            {
                "metric_id": metric.id,
                "name": "Too many errors",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
    values = {
        "values": [{"labels": {"service": f"svc-{i:05d}"}, "value": 1} for i in range(series)]
    }
    settings = Settings(database_url=db.url)

    async def once() -> None:
        async with HttpClient(settings) as http:
            await run_now(
                db, org, metric.id, settings=settings, http=http, value=values, has_value=True
            )

    asyncio.run(once())
    return org, alert.id


# One row per (run, series): quiet "ok" evaluations, but each series fires at its own
# two moments a day and resolves on the next run.
_PG_FILL = """
INSERT INTO alert_history (id, alert_id, org_id, execution_id, evaluated_at, value,
    baseline_value, triggered, state_from, state_to, notified, reason, series_id, labels)
SELECT gen_random_uuid(), s.alert_id, s.org_id, NULL,
    to_timestamp(CAST(:start AS bigint) + r.i * CAST(:every AS bigint)),
    CASE WHEN f.phase = 1 THEN 7 ELSE 1 END, NULL,
    f.phase = 1, CASE WHEN f.phase = 2 THEN 'triggered' ELSE 'ok' END,
    CASE WHEN f.phase = 1 THEN 'triggered' ELSE 'ok' END, f.phase > 0,
    CASE WHEN f.phase = 1 THEN '7 > 5; triggered' WHEN f.phase = 2 THEN 'resolved'
         ELSE '1 <= 5' END,
    s.id, s.labels
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS r(i)
CROSS JOIN (SELECT *, row_number() OVER (ORDER BY series_key) AS k FROM alert_series
            WHERE alert_id = :alert) AS s
CROSS JOIN LATERAL (SELECT CASE WHEN (r.i + s.k) % CAST(:half_day AS bigint) = 0 THEN 1
                                WHEN (r.i + s.k) % CAST(:half_day AS bigint) = 1 THEN 2 ELSE 0 END
                    AS phase) AS f
"""

_SQLITE_FILL = """
WITH RECURSIVE r(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM r WHERE i < :last),
s AS (SELECT *, row_number() OVER (ORDER BY series_key) AS k FROM alert_series
      WHERE alert_id = :alert),
f AS (SELECT r.i, s.*, CASE WHEN (r.i + s.k) % :half_day = 0 THEN 1
                            WHEN (r.i + s.k) % :half_day = 1 THEN 2 ELSE 0 END AS phase
      FROM r CROSS JOIN s)
INSERT INTO alert_history (id, alert_id, org_id, execution_id, evaluated_at, value,
    baseline_value, triggered, state_from, state_to, notified, reason, series_id, labels)
SELECT lower(hex(randomblob(16))), alert_id, org_id, NULL,
    strftime('%Y-%m-%d %H:%M:%f000', :start + i * :every, 'unixepoch'),
    CASE WHEN phase = 1 THEN '7' ELSE '1' END, NULL, phase = 1,
    CASE WHEN phase = 2 THEN 'triggered' ELSE 'ok' END,
    CASE WHEN phase = 1 THEN 'triggered' ELSE 'ok' END, phase > 0,
    CASE WHEN phase = 1 THEN '7 > 5; triggered' WHEN phase = 2 THEN 'resolved'
         ELSE '1 <= 5' END,
    id, labels
FROM f
"""


def fill(db: Database, alert_id: uuid.UUID, start: datetime, days: int, every: int) -> int:
    """A month of evaluations, a day per transaction; the rows written."""
    runs_per_day = DAY // every
    if not db.is_sqlite:
        months = {partitions.month_of(start + timedelta(days=d)) for d in range(days + 1)}
        with db.begin() as conn:
            partitions.ensure_months(conn, months)
    statement = text(_SQLITE_FILL if db.is_sqlite else _PG_FILL)
    written = -rows(db)
    for day in range(days):
        first, last = day * runs_per_day, (day + 1) * runs_per_day - 1
        params = {
            "alert": alert_id.hex if db.is_sqlite else alert_id,
            "start": int(start.timestamp()),
            "every": every,
            "first": first,
            "last": last,
            "half_day": max(runs_per_day // 2, 2),
        }
        with db.begin() as conn:
            conn.execute(statement, params)
    if not db.is_sqlite:
        # What autovacuum (and a worker's upkeep, every 10 s) does after such growth:
        # measured on statistics of empty partitions, the history page read and sorted
        # all 2.9 million rows of the alert (1.2 s) instead of 51 through its index.
        with db.autocommit() as conn:
            conn.execute(text("ANALYZE alert_history"))
    return written + rows(db)


def history_bytes(db: Database) -> int:
    with db.connect() as conn:
        if db.is_sqlite:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)  # the whole file: history is nearly all of it
        return int(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "WHERE c.oid = 'alert_history'::regclass OR c.oid IN "
                    "(SELECT inhrelid FROM pg_inherits WHERE inhparent = "
                    "'alert_history'::regclass)"
                )
            ).scalar_one()
        )


def rows(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alert_history)).scalar_one())


def page_times(db: Database, alert_id: uuid.UUID, n: int) -> dict[str, float]:
    with server(db.url) as base, httpx.Client(timeout=120) as client:
        urls = {
            "bare route": f"{base}/bare",
            "alert page": f"{base}/ui/alerts/{alert_id}",
            "top-10 chart, 24 h": f"{base}/ui/alerts/{alert_id}/chart.json?series=top",
            "alert page history rows": f"{base}/ui/alerts/{alert_id}/history",
        }
        out = {}
        for name, url in urls.items():
            try:
                out[name] = statistics.median(timings(client, url, n))
            except httpx.HTTPStatusError as exc:
                print(f"    ({name}: {exc.response.status_code}, left out)")
        return out


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--series", type=int, default=1_000)
    parser.add_argument("--every", type=int, default=60, help="seconds between runs")
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("TOCSIN_ALLOW_PRIVATE_NETWORKS", "false")
    for kind, ctx in databases(args.db.split(",")):
        with ctx as db:  # type: ignore[attr-defined]
            _org, alert_id = seed(db, args.series)
            fresh = page_times(db, alert_id, args.requests)
            fresh_bytes = history_bytes(db)
            now = utcnow()
            started = time.perf_counter()
            written = fill(db, alert_id, now - timedelta(days=args.days), args.days, args.every)
            filled_s = time.perf_counter() - started
            size = history_bytes(db)
            month = page_times(db, alert_id, args.requests)
            print(
                f"\n{kind}: {args.series:,} series every {args.every} s for {args.days} days: "
                f"{written:,} history rows written in {filled_s:.0f} s"
            )
            print(
                f"  history size: {_mib(size)} ({(size - fresh_bytes) / max(written, 1):.0f} "
                f"bytes a row with its indexes; {_mib(fresh_bytes)} before)"
            )
            print(f"  {'':28} {'fresh ms':>9} {'month ms':>9} {'month/fresh':>12} {'vs bare':>8}")
            for name in month:
                if name in fresh:
                    ratio = month[name] / fresh[name]
                    bare = month[name] / month["bare route"]
                    print(
                        f"  {name:28} {fresh[name]:9.1f} {month[name]:9.1f} {ratio:11.2f}x "
                        f"{bare:7.1f}x"
                    )
            # A day later the month's first day is past the 30 days; the prune removes its
            # quiet evaluations (its transitions stay 400 days).
            before = rows(db)
            started = time.perf_counter()
            pruned = prune(
                db, Retention.of(Settings()), now=now + timedelta(days=1), budget_seconds=3600
            )
            took = time.perf_counter() - started
            print(
                f"  prune, a day later: {pruned.quiet:,} quiet rows of {before:,} in {took:.1f} s "
                f"({pruned.quiet / max(took, 1e-9):,.0f} rows/s; finished: {pruned.finished}); "
                f"size after: {_mib(history_bytes(db))} (space is reused, not returned)"
            )


if __name__ == "__main__":
    main()
