"""Worker subprocesses and fixtures for the distributed runtime's tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, metric_executions, notification_deliveries
from tocsin.execution.job_queue import apply_procrastinate_schema
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

TOCSIN = Path(sys.executable).with_name("tocsin")

# Fast failure detection, so that recovery fits in a test: a dead worker is noticed
# after 3 s of silence, a claimed delivery is retried 3 s after its worker died.
FAST_RECOVERY = {
    "TOCSIN_ALLOW_PRIVATE_NETWORKS": "true",
    "TOCSIN_WORKER_HEARTBEAT_SECONDS": "1",
    "TOCSIN_WORKER_STALLED_AFTER_SECONDS": "3",
    "TOCSIN_WORKER_SHUTDOWN_GRACE_SECONDS": "5",
    "TOCSIN_DELIVERY_LEASE_SECONDS": "3",
    "TOCSIN_DELIVERY_BACKOFF_BASE_SECONDS": "1",
}


class WorkerProcess:
    """A ``tocsin worker`` subprocess whose log goes to a file the test can read."""

    def __init__(self, url: str, log: Path, *, concurrency: int = 10) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
        env.update(FAST_RECOVERY)
        # The worker opens the secrets the test process sealed.
        env["TOCSIN_ENCRYPTION_KEY"] = os.environ["TOCSIN_ENCRYPTION_KEY"]
        self._out = log.open("wb")
        self.proc = subprocess.Popen(
            [str(TOCSIN), "--database-url", url, "worker", "--concurrency", str(concurrency)],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, as an operator stops a worker; SIGKILL if it does not exit."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)
        self._out.close()


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def queue_db(pg_db: Database) -> Database:
    """The PostgreSQL test database with Procrastinate's schema, queue emptied."""
    apply_procrastinate_schema(pg_db.url)
    with pg_db.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE procrastinate_jobs, procrastinate_workers, "
                "procrastinate_periodic_defers CASCADE"
            )
        )
    return pg_db


@pytest.fixture
def spawn_worker(queue_db: Database, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def spawn(concurrency: int = 10) -> WorkerProcess:
        worker = WorkerProcess(
            queue_db.url, tmp_path / f"worker-{len(started)}.log", concurrency=concurrency
        )
        started.append(worker)
        return worker

    yield spawn
    for worker in started:
        worker.kill()


def org(db: Database, name: str = "acme") -> uuid.UUID:
    with db.begin() as conn:
        return get_or_create_org(conn, name)


def create_metric(db: Database, org_id: uuid.UUID, definition: dict[str, Any]) -> uuid.UUID:
    with db.begin() as conn:
        return MetricStore(conn, org_id).create(definition).id


def create_alert(
    db: Database, org_id: uuid.UUID, metric_id: uuid.UUID, action: dict[str, Any], **extra: Any
) -> uuid.UUID:
    with db.begin() as conn:
        return (
            AlertStore(conn, org_id)
            .create_alert(
                {
                    "metric_id": metric_id,
                    "name": f"alert {uuid.uuid4().hex[:6]}",
                    "condition_type": "threshold",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "action_config": action,
                    **extra,
                }
            )
            .id
        )


def executions(db: Database, metric_id: uuid.UUID | None = None) -> list[Any]:
    query = select(metric_executions).order_by(metric_executions.c.started_at)
    if metric_id is not None:
        query = query.where(metric_executions.c.metric_id == metric_id)
    with db.connect() as conn:
        return list(conn.execute(query))


def history_count(db: Database, alert_id: uuid.UUID) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(alert_history)
                .where(alert_history.c.alert_id == alert_id)
            ).scalar_one()
        )


def history_for(db: Database, execution_id: uuid.UUID) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(select(alert_history).where(alert_history.c.execution_id == execution_id))
        )


def deliveries(db: Database, alert_id: uuid.UUID) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(notification_deliveries).where(
                    notification_deliveries.c.alert_id == alert_id
                )
            )
        )
