"""Planner statistics of Tocsin's tables: a plan cached while a table was empty must not
outlive the table's growth (tocsin.execution.upkeep)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import insert, text
from tests.runtime_pg.pg_runtime_support import create_metric, org, wait_for

from tocsin.db.database import Database
from tocsin.db.schema import metric_executions
from tocsin.execution.job_queue import libpq_conninfo
from tocsin.execution.upkeep import analyze_outgrown_tables


@pytest.fixture
def new_db(fresh_pg: str) -> Iterator[Database]:
    """Tocsin's tables in a database of their own: never analysed."""
    db = Database(fresh_pg)
    db.ensure_schema()
    yield db
    db.dispose()


def _add_runs(db: Database, metric_id: uuid.UUID, org_id: uuid.UUID, n: int) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "metric_id": metric_id,
            "org_id": org_id,
            "status": "completed",
            "trigger": "schedule",
            "started_at": now,
            "completed_at": now,
        }
        for _ in range(n)
    ]
    with db.begin() as conn:
        conn.execute(insert(metric_executions), rows)
        before = conn.execute(text(_LIVE_ROWS)).scalar_one()
        # Row counts reach the statistics views when the writer goes idle, at most once
        # a second: wait until they are in, as they are for a worker's periodic check.
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
    wait_for(lambda: _live_rows(db) >= before + n, 15, "the row counts to be flushed")


_LIVE_ROWS = "SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'metric_executions'"


def _live_rows(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(_LIVE_ROWS)).scalar_one())


def _finish_plan(conn: psycopg.Connection) -> str:
    found = conn.execute(
        "EXPLAIN EXECUTE finish('00000000-0000-0000-0000-000000000000')"
    ).fetchall()
    return "\n".join(row[0] for row in found)


def test_a_plan_made_on_an_empty_table_is_replaced_once_the_table_grew(
    new_db: Database,
) -> None:
    acme = org(new_db)
    metric = create_metric(new_db, acme, {"name": "m", "source": {"type": "push"}})
    with psycopg.connect(libpq_conninfo(new_db.url), autocommit=True) as conn:
        # Given a database analysed before its first run (`vacuumdb --analyze` after
        # installing, or a restore), and a worker's statement planned on it
        conn.execute("ANALYZE metric_executions")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute(
            "PREPARE finish(uuid) AS UPDATE metric_executions SET status = 'completed' "
            "WHERE id = $1"
        )
        _finish_plan(conn)
        # When thousands of runs are recorded
        _add_runs(new_db, metric, acme, 5000)
        assert "Seq Scan on metric_executions" in _finish_plan(conn)
        # Then the upkeep check refreshes the table's statistics, and the statement
        # finds a run by its key again
        assert "metric_executions" in analyze_outgrown_tables(new_db)
        assert "Index Scan using pk_metric_executions" in _finish_plan(conn)


def test_only_tables_whose_size_moved_are_analysed(new_db: Database) -> None:
    acme = org(new_db)
    metric = create_metric(new_db, acme, {"name": "m", "source": {"type": "push"}})
    _add_runs(new_db, metric, acme, 500)
    assert analyze_outgrown_tables(new_db) == ["metric_executions"]
    # Statistics now match: nothing to do until the table grows by a tenth again.
    assert analyze_outgrown_tables(new_db) == []
    _add_runs(new_db, metric, acme, 20)
    assert analyze_outgrown_tables(new_db) == []
    _add_runs(new_db, metric, acme, 200)
    assert analyze_outgrown_tables(new_db) == ["metric_executions"]
    with new_db.connect() as conn:
        counted = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'metric_executions'")
        ).scalar_one()
    assert counted == 720
