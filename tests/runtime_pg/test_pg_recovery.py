"""The distributed runtime survives a killed worker and a restarted PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.channels.channel_support import Recorded, Reply, Sink
from tests.runtime_pg.pg_runtime_support import (
    WorkerProcess,
    create_alert,
    create_metric,
    deliveries,
    executions,
    history_for,
    org,
    queue_db,
    spawn_worker,
    wait_for,
)

from tocsin.db.database import Database

__all__ = ["queue_db", "spawn_worker"]  # fixtures, used by name

# Longer than the worker lives after the request arrives, short enough that the
# sink's shutdown does not wait long for the abandoned handler.
STUCK_SECONDS = 8.0


def test_sigkill_mid_run_and_mid_delivery_loses_nothing(
    queue_db: Database, sink: Sink, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    hooks_seen = 0

    def answer(rec: Recorded) -> Reply:
        nonlocal hooks_seen
        if rec.path == "/slow":
            return Reply(body={"open_issues_count": 1}, delay=STUCK_SECONDS)
        hooks_seen += 1
        # Only the first attempt hangs: the one the killed worker was making.
        return Reply(delay=STUCK_SECONDS if hooks_seen == 1 else 0.0)

    sink.default = answer
    acme = org(queue_db)
    hour = {"every_seconds": 3600}
    slow = create_metric(
        queue_db,
        acme,
        {
            "name": "slow",
            "source": {"type": "http", "url": f"{sink.url}/slow", "timeout_seconds": 30},
            "selector": {"json_path": "$.open_issues_count"},
            "schedule": hour,
        },
    )
    slow_alert = create_alert(queue_db, acme, slow, {"type": "log"})
    firing = create_metric(
        queue_db,
        acme,
        {"name": "firing", "source": {"type": "demo", "values": [9]}, "schedule": hour},
    )
    firing_alert = create_alert(
        queue_db, acme, firing, {"type": "webhook", "url": f"{sink.url}/hook"}
    )

    first = spawn_worker()
    wait_for(
        lambda: {r.path for r in sink.requests} >= {"/slow", "/hook"},
        20,
        "the slow run and the first webhook attempt in flight",
    )
    first.proc.kill()
    first.proc.wait(5)
    killed_at = datetime.now(UTC)
    [run] = executions(queue_db, slow)
    assert run.status == "running"
    [delivery] = deliveries(queue_db, firing_alert)
    assert delivery.status == "pending"

    second = spawn_worker()

    def slow_run_finished() -> bool:
        runs = executions(queue_db, slow)
        return len(runs) == 1 and runs[0].evaluated_at is not None

    wait_for(slow_run_finished, 30, "the cut-off run to be finished and evaluated")
    [run] = executions(queue_db, slow)
    assert run.status == "failed"
    assert "abandoned" in run.error
    [history] = history_for(queue_db, run.id)
    assert history.alert_id == slow_alert and history.state_to == "error"

    sent = wait_for(
        lambda: [d for d in deliveries(queue_db, firing_alert) if d.status == "sent"],
        30,
        "the interrupted delivery to be sent",
    )
    assert [d.id for d in sent] == [delivery.id]
    hooks = [r for r in sink.requests if r.path == "/hook"]
    assert len(hooks) >= 2
    assert {h.headers["Idempotency-Key"] for h in hooks} == {delivery.idempotency_key}
    # The firing metric's run finished before the kill and is not run again.
    [fired] = executions(queue_db, firing)
    assert fired.completed_at < killed_at
    assert second.stop() == 0, second.text()


def _pg_cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster serving the test database, if we may
    restart it."""
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        return None
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*") if p.is_dir())
    return (versions[-1], "main") if versions else None


def _pg_ctl(cluster: tuple[str, str], action: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def pg_cluster(queue_db: Database) -> Iterator[tuple[str, str]]:
    cluster = _pg_cluster()
    host = make_url(queue_db.url).host
    if cluster is None or host not in ("127.0.0.1", "localhost", "::1"):
        reason = "restarting PostgreSQL needs root, pg_ctlcluster and a local server"
        if os.environ.get("TOCSIN_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (TOCSIN_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(reason)
    yield cluster
    # Whatever happened, leave the server running for the tests after this one.
    status = subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", *cluster, "status"],
        capture_output=True,
        timeout=30,
    )
    if status.returncode != 0:
        _pg_ctl(cluster, "start")


def test_worker_rides_out_a_postgresql_restart(
    queue_db: Database,
    spawn_worker: Callable[..., WorkerProcess],
    pg_cluster: tuple[str, str],
) -> None:
    acme = org(queue_db)
    metric = create_metric(
        queue_db,
        acme,
        {"name": "pulse", "source": {"type": "demo"}, "schedule": {"every_seconds": 1}},
    )
    worker = spawn_worker()
    wait_for(lambda: len(executions(queue_db, metric)) >= 2, 20, "runs before the restart")

    _pg_ctl(pg_cluster, "restart")
    back_at = datetime.now(UTC)
    # Our own pooled connections died with the server; pre-ping replaces them.
    wait_for(lambda: _reachable(queue_db), 30, "PostgreSQL to accept connections")

    wait_for(
        lambda: len([r for r in executions(queue_db, metric) if r.started_at > back_at]) >= 3,
        45,
        "runs after the restart",
    )
    assert worker.alive(), worker.text()
    assert "starting again" in worker.text()
    assert worker.stop() == 0, worker.text()


def _reachable(db: Database) -> bool:
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False
