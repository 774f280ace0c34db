"""The embedded runtime: metrics run themselves and their alerts are evaluated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.channels.channel_support import Reply
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, metric_executions
from tocsin.execution import due, pg_runs, sqlite_runs
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.tasks import sweep
from tocsin.metrics.store import MetricStore
from tocsin.settings import Settings

from .helpers import run_cli

TOCSIN = str(Path(sys.executable).parent / "tocsin")


async def _run_for(runtime: EmbeddedRuntime, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await task


def _count(db: Database, table: Any) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_scheduled_http_metric_is_run_and_evaluated_automatically(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    """The seed's scheduler check: nobody calls anything; history and a webhook appear."""
    sink.default = lambda rec: (
        Reply(200, {"open_issues_count": 7, "name": "tocsin"})
        if rec.path == "/repos/acme/tocsin"
        else Reply(200, "ok")
    )
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "Open Issues",
                "source": {"type": "http", "url": f"{sink.url}/repos/acme/tocsin"},
                "selector": {"json_path": "$.open_issues_count"},
                "schedule": {"every_seconds": 1},
            }
        )
        alert = AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Notify if Issues > 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "webhook", "url": f"{sink.url}/hook"},
            }
        )
    runtime = EmbeddedRuntime(db, Settings(allow_private_networks=True), tick_seconds=0.2)
    asyncio.run(_run_for(runtime, 3.0))
    with db.connect() as conn:
        history = AlertStore(conn, org_id).history(alert.id)
        executions = MetricStore(conn, org_id).executions(metric.id)
    assert len(executions) >= 2 and all(e.status == "completed" for e in executions)
    assert all(e.trigger == "schedule" and e.scheduled_for is not None for e in executions)
    assert len(history) == len(executions)
    assert history[-1].triggered and history[-1].notified and history[-1].reason.startswith("7")
    hooks = [r for r in sink.requests if r.path == "/hook"]
    assert len(hooks) == 1 and hooks[0].json()["event"] == "alert.triggered"
    assert runtime.status.errors == 0


def test_a_database_error_makes_the_runtime_back_off_not_exit(
    db: Database, org_id: uuid.UUID, monkeypatch: Any
) -> None:
    with db.begin() as conn:
        MetricStore(conn, org_id).create(
            {"name": "m", "source": {"type": "demo"}, "schedule": {"every_seconds": 1}}
        )
    real = due.claim_due
    failures = {"left": 2}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    # Each engine's run store claims through execution.due.
    monkeypatch.setattr(sqlite_runs, "claim_due", flaky)
    monkeypatch.setattr(pg_runs, "claim_due", flaky)
    runtime = EmbeddedRuntime(db, Settings(), tick_seconds=0.1)
    asyncio.run(_run_for(runtime, 4.5))  # back-off: 1 s, then 2 s
    assert runtime.status.errors == 2 and "database is locked" in (runtime.status.last_error or "")
    assert runtime.status.runs >= 1
    assert _count(db, metric_executions) >= 1


def test_the_sweep_finishes_what_a_crash_left(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "m", "source": {"type": "push"}})
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "a",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )
        long_ago = datetime.now(UTC) - timedelta(minutes=5)
        # Completed but never evaluated (killed in between) ...
        store.record_value(metric.id, 6, at=long_ago)
        # ... and left running by a process that died.
        store.start_execution(metric.id, trigger="schedule", started_at=long_ago)
    assert asyncio.run(sweep(db, Settings())) == 2
    with db.connect() as conn:
        statuses = conn.execute(
            select(metric_executions.c.status, metric_executions.c.evaluated_at)
        ).all()
    assert sorted(s for s, _ in statuses) == ["completed", "failed"]
    assert all(evaluated is not None for _, evaluated in statuses)
    assert _count(db, alert_history) == 2
    assert asyncio.run(sweep(db, Settings())) == 0  # nothing owed twice


def test_demo_once_exits_0_after_the_first_firing(tmp_path: Path) -> None:
    env = dict(os.environ, TOCSIN_DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    started = time.monotonic()
    out = subprocess.run(
        [TOCSIN, "demo", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 15
    assert "ok -> triggered" in out.stdout and "FIRED" in out.stdout
    assert "alert triggered: Notify if Issues > 5" in out.stderr  # the log action's line
    history = run_cli(
        f"sqlite:///{tmp_path}/demo.db",
        "alert",
        "history",
        "Notify if Issues > 5",
        "--json",
        org="demo",
    ).json()
    assert any(h["notified"] for h in history)
    deliveries = run_cli(
        f"sqlite:///{tmp_path}/demo.db", "deliveries", "list", "--json", org="demo"
    ).json()
    assert [d["status"] for d in deliveries] == ["sent"]


def test_sigterm_stops_the_service_cleanly(tmp_path: Path) -> None:
    env = dict(os.environ, TOCSIN_DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    proc = subprocess.Popen(
        [TOCSIN, "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # Signalled once it runs (a loaded machine takes seconds to start it).
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "Evaluations as they happen" in line:
                break
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        out = "".join(seen) + out
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "Where to look next" in out
    db = Database(f"sqlite:///{tmp_path}/demo.db")
    with db.connect() as conn:
        running = conn.execute(
            select(func.count())
            .select_from(metric_executions)
            .where(metric_executions.c.status == "running")
        ).scalar_one()
        unevaluated = conn.execute(
            select(func.count())
            .select_from(metric_executions)
            .where(metric_executions.c.evaluated_at.is_(None))
        ).scalar_one()
    db.dispose()
    assert running == 0 and unevaluated == 0


def test_a_slow_source_is_cut_off_by_its_timeout(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    sink.default = Reply(200, {"n": 1}, delay=2.5)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "slow",
                "source": {"type": "http", "url": f"{sink.url}/slow", "timeout_seconds": 0.5},
                "schedule": {"every_seconds": 60},
            }
        )
    runtime = EmbeddedRuntime(db, Settings(allow_private_networks=True), tick_seconds=0.1)
    asyncio.run(_run_for(runtime, 2.0))
    with db.connect() as conn:
        [execution] = MetricStore(conn, org_id).executions(metric.id)
    assert execution.status == "timed_out" and execution.completed_at is not None
    assert execution.completed_at - execution.started_at < timedelta(seconds=3)
