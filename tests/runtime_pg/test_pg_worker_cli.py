"""``tocsin worker`` and ``tocsin db upgrade``: what the operator sees."""

from __future__ import annotations

from pathlib import Path

import psycopg
from tests.helpers import run_cli

from tocsin.execution.job_queue import (
    apply_procrastinate_schema,
    has_procrastinate_schema,
    libpq_conninfo,
)


def test_worker_refuses_sqlite_and_points_to_serve(tmp_path: Path) -> None:
    result = run_cli(f"sqlite:///{tmp_path / 'tocsin.db'}", "worker")
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr and "tocsin serve" in result.stderr


def test_worker_refuses_bad_tuning(pg_url: str) -> None:
    result = run_cli(
        pg_url,
        "worker",
        env={"TOCSIN_WORKER_HEARTBEAT_SECONDS": "20", "TOCSIN_WORKER_STALLED_AFTER_SECONDS": "30"},
    )
    assert result.exit_code == 2
    assert "TOCSIN_WORKER_" in result.stderr


def test_db_upgrade_creates_the_job_queue_once(fresh_pg: str) -> None:
    # Users paste plain postgresql:// URLs; the worker's libpq form is derived from them.
    plain = fresh_pg.replace("postgresql+psycopg://", "postgresql://")
    assert not has_procrastinate_schema(plain)
    first = run_cli(plain, "db", "upgrade", "--json")
    assert first.exit_code == 0, first.stderr
    assert first.json()["job_queue"] == "created"
    assert has_procrastinate_schema(plain)
    second = run_cli(plain, "db", "upgrade", "--json")
    assert second.exit_code == 0, second.stderr
    assert second.json()["job_queue"] == "present"
    assert apply_procrastinate_schema(fresh_pg) is False


def test_worker_asks_for_db_upgrade_when_the_queue_is_missing(fresh_pg: str) -> None:
    from tocsin.db.database import Database

    db = Database(fresh_pg)
    db.ensure_schema()  # Tocsin's tables, but not the job queue's
    db.dispose()
    result = run_cli(fresh_pg, "worker")
    assert result.exit_code == 1
    assert "tocsin db upgrade" in result.stderr


def _lock_index_scans(url: str) -> int:
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT idx_scan FROM pg_stat_user_indexes "
            "WHERE indexrelname = 'tocsin_procrastinate_jobs_lock_idx'"
        ).fetchone()
        return -1 if row is None else int(row[0])


def test_job_fetch_finds_lock_conflicts_through_tocsins_index(fresh_pg: str) -> None:
    # Given a queue created before Tocsin added its index
    apply_procrastinate_schema(fresh_pg)
    with psycopg.connect(libpq_conninfo(fresh_pg), autocommit=True) as conn:
        conn.execute("DROP INDEX tocsin_procrastinate_jobs_lock_idx")
    assert _lock_index_scans(fresh_pg) == -1
    # When `tocsin db upgrade` runs again
    result = run_cli(fresh_pg, "db", "upgrade", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["job_queue"] == "present"
    # Then a worker's fetch, with thousands of metric runs queued, checks each candidate's
    # lock through that index
    with psycopg.connect(libpq_conninfo(fresh_pg), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, lock, queueing_lock, args) "
            "SELECT 'default', 'tocsin.run_metric', 'metric:' || g, 'metric:' || g, '{}' "
            "FROM generate_series(1, 3000) AS g"
        )
        conn.execute("ANALYZE procrastinate_jobs")
        before = _lock_index_scans(fresh_pg)
        fetched = conn.execute("SELECT lock FROM procrastinate_fetch_job_v2(NULL, NULL)").fetchone()
        conn.execute("SELECT pg_stat_force_next_flush()")
    assert fetched == ("metric:1",)
    assert _lock_index_scans(fresh_pg) > before
