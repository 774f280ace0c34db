"""Evaluating 10,000 alerts on one metric after one execution, and one alert over
10,000 series.

Prints alerts (or series) evaluated per second (decisions, state updates, history rows
and the outbox rows for what fires) on SQLite and PostgreSQL, beside a baseline measured
in the same run on the same database: a raw ``executemany`` writing the same history
rows. With ``--series N``, also one alert on one execution whose result has N series
(``series_by``), and the peak memory that evaluation allocated.

    .venv/bin/python -m bench.evaluate [--alerts 10000] [--series 10000]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import delete, insert, update

from bench.common import postgres_database, sqlite_database
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import (
    alert_history,
    alert_series,
    alerts,
    metric_executions,
    notification_deliveries,
)
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings


def seed(db: Database, n: int) -> tuple[uuid.UUID, uuid.UUID]:
    now = datetime.now(UTC)
    with db.begin() as conn:
        org = get_or_create_org(conn, "bench")
        metric = MetricStore(conn, org).create({"name": "m", "source": {"type": "push"}})
        conn.execute(
            insert(alerts),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": org,
                    "metric_id": metric.id,
                    "name": f"alert {i}",
                    "description": "",
                    "condition_type": "threshold",
                    "threshold_value": Decimal(i),
                    "comparison_op": "gt",
                    "action_config": {"type": "log"},
                    "enabled": True,
                    "change_mode": "percent",
                    "lookback": 1,
                    "cooldown_seconds": 3600,
                    "pending_evaluations": 1,
                    "notify_on_resolve": True,
                    "state": "ok",
                    "consecutive_breaches": 0,
                    "episode_notified": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
    return org, metric.id


def seed_series(db: Database) -> tuple[uuid.UUID, uuid.UUID]:
    """One alert ``> N/2`` on a metric whose results have a ``service`` column."""
    with db.begin() as conn:
        org = get_or_create_org(conn, "bench-series")
        metric = MetricStore(conn, org).create(
            {
                "name": "errors by service",
                "source": {"type": "push"},
                "selector": {"column": "n", "series_by": ["service"]},
            }
        )
        AlertStore(conn, org).create_alert(
            {
                "metric_id": metric.id,
                "name": "hot service",
                "comparison_op": "gt",
                "threshold_value": 0,
                "action_config": {"type": "log"},
            }
        )
    return org, metric.id


def run_series(
    db: Database, org: uuid.UUID, metric_id: uuid.UUID, n: int, *, traced: bool = False
) -> float:
    """Seconds to evaluate one execution of ``n`` series (half of them firing); with
    ``traced``, the peak bytes the evaluation allocated instead (tracing slows it)."""
    table = {"columns": ["service", "n"], "rows": [[f"s{i}", i - n // 2] for i in range(n)]}
    with db.begin() as conn:
        execution = MetricStore(conn, org).record_value(metric_id, table)
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    result = evaluate_alerts(db, metric_id, execution, settings=Settings())
    elapsed = time.perf_counter() - started
    assert len(result.evaluated) == n
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return float(peak)
    return elapsed


def reset(db: Database, metric_id: uuid.UUID) -> None:
    with db.begin() as conn:
        conn.execute(delete(notification_deliveries))
        conn.execute(delete(alert_history))
        conn.execute(delete(metric_executions))
        # Each alert keeps its series, as it does from one run to the next.
        conn.execute(
            update(alert_series).values(
                state="ok",
                last_triggered_at=None,
                last_evaluated_at=None,
                episode_notified=False,
                consecutive_breaches=0,
            )
        )
        conn.execute(
            update(alerts).values(
                state="ok",
                last_triggered_at=None,
                last_evaluated_at=None,
                last_execution_id=None,
                episode_notified=False,
                consecutive_breaches=0,
            )
        )


def run_tocsin(db: Database, org: uuid.UUID, metric_id: uuid.UUID, n: int) -> float:
    with db.begin() as conn:
        # Half the alerts (thresholds below the value) fire: realistic outbox load.
        execution = MetricStore(conn, org).record_value(metric_id, n // 2)
    started = time.perf_counter()
    result = evaluate_alerts(db, metric_id, execution, settings=Settings())
    elapsed = time.perf_counter() - started
    assert len(result.evaluated) == n
    return elapsed


def run_raw(db: Database, org: uuid.UUID, metric_id: uuid.UUID, n: int) -> float:
    with db.connect() as conn:
        ids = [r[0] for r in conn.execute(alerts.select().with_only_columns(alerts.c.id))]
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "alert_id": a,
            "org_id": org,
            "execution_id": None,
            "evaluated_at": now,
            "value": Decimal(n // 2),
            "baseline_value": None,
            "triggered": True,
            "state_from": "ok",
            "state_to": "triggered",
            "notified": True,
            "reason": f"{n // 2} > x",
        }
        for a in ids
    ]
    started = time.perf_counter()
    with db.begin() as conn:
        conn.execute(insert(alert_history), rows)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--series", type=int, default=0, help="also one alert over N series")
    args = parser.parse_args()
    n = args.alerts
    print(f"{n} alerts on one metric, one execution (best of {args.repeat})")
    print(f"{'engine':<11} {'tocsin alerts/s':>16} {'raw history rows/s':>19} {'ratio':>6}")
    for engine in args.engines.split(","):
        factory = sqlite_database if engine == "sqlite" else postgres_database
        with factory() as db:
            org, metric_id = seed(db, n)
            # As a long-running service does after start-up (tocsin serve/worker): move
            # what exists to the permanent generation so collections skip it.
            gc.collect()
            gc.freeze()
            ours, raw = [], []
            for _ in range(args.repeat):
                reset(db, metric_id)
                ours.append(run_tocsin(db, org, metric_id, n))
                reset(db, metric_id)
                raw.append(run_raw(db, org, metric_id, n))
            best, base = min(ours), min(raw)
            print(f"{engine:<11} {n / best:>16,.0f} {n / base:>19,.0f} {best / base:>5.1f}x")
            if args.series:
                print_series(db, engine, args.series, args.repeat, n / best)


def print_series(db: Database, engine: str, n: int, repeat: int, alerts_rate: float) -> None:
    org, metric_id = seed_series(db)
    times = []
    for _ in range(repeat):
        reset(db, metric_id)
        times.append(run_series(db, org, metric_id, n))
    reset(db, metric_id)
    peak = run_series(db, org, metric_id, n, traced=True)
    rate = n / min(times)
    print(
        f"{engine:<11} one alert, {n:,} series: {rate:,.0f} series/s "
        f"({rate / alerts_rate:.2f}x the rate of {n:,} one-series alerts), "
        f"peak {peak / 2**20:.0f} MiB allocated"
    )


if __name__ == "__main__":
    main()
