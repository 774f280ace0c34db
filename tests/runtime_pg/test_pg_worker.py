"""The distributed runtime on PostgreSQL, through real ``tocsin worker`` processes."""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tests.channels.channel_support import Recorded, Reply, Sink
from tests.runtime_pg.pg_runtime_support import (
    WorkerProcess,
    create_alert,
    create_metric,
    deliveries,
    executions,
    history_count,
    org,
    queue_db,
    spawn_worker,
    wait_for,
)

from tocsin.db.database import Database

__all__ = ["queue_db", "spawn_worker"]  # fixtures, used by name

_RAN = re.compile(r"ran metric (\S+) for \S+: execution (\S+) ")


def _json_then_ok(count: int) -> Callable[[Recorded], Reply]:
    def answer(rec: Recorded) -> Reply:
        if rec.path == "/repo":
            return Reply(body={"open_issues_count": count, "name": "tocsin"})
        return Reply()

    return answer


def test_http_metric_runs_evaluates_and_delivers_with_a_worker(
    queue_db: Database, sink: Sink, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    sink.default = _json_then_ok(7)
    acme = org(queue_db)
    metric = create_metric(
        queue_db,
        acme,
        {
            "name": "Open Issues",
            "source": {"type": "http", "url": f"{sink.url}/repo"},
            "selector": {"json_path": "$.open_issues_count"},
            "schedule": {"every_seconds": 1},
        },
    )
    alert = create_alert(queue_db, acme, metric, {"type": "webhook", "url": f"{sink.url}/hook"})

    worker = spawn_worker()

    wait_for(lambda: history_count(queue_db, alert) >= 2, 30, "alert history rows")
    sent = wait_for(
        lambda: [d for d in deliveries(queue_db, alert) if d.status == "sent"],
        15,
        "a sent webhook delivery",
    )
    hooks = [r for r in sink.requests if r.path == "/hook"]
    assert hooks and hooks[0].json()["value"] == 7
    assert hooks[0].headers["Idempotency-Key"] == sent[0].idempotency_key
    runs = executions(queue_db, metric)
    assert all(r.trigger == "schedule" for r in runs)
    assert any(r.status == "completed" and r.value == 7 for r in runs)
    assert worker.stop() == 0, worker.text()


def test_two_workers_share_the_work_and_never_double_run_a_slot(
    queue_db: Database, spawn_worker: Callable[..., WorkerProcess]
) -> None:
    acme = org(queue_db)
    metric_ids = [
        create_metric(
            queue_db,
            acme,
            {
                "name": f"demo {i}",
                "source": {"type": "demo"},
                "schedule": {"every_seconds": 1 + i % 3},
            },
        )
        for i in range(50)
    ]
    workers = [spawn_worker(concurrency=5), spawn_worker(concurrency=5)]
    time.sleep(20)
    for worker in workers:
        assert worker.stop() == 0, worker.text()

    runs = executions(queue_db)
    by_metric: dict[Any, list[Any]] = defaultdict(list)
    for run in runs:
        by_metric[run.metric_id].append(run)
    assert set(by_metric) == set(metric_ids)
    for metric_id, metric_runs in by_metric.items():
        slots = [r.scheduled_for for r in metric_runs]
        assert len(slots) == len(set(slots)), f"metric {metric_id} ran a slot twice"
        assert all(r.status == "completed" for r in metric_runs)
        # Ten seconds of schedule at the slowest rate: a stuck metric would show here.
        assert len(metric_runs) >= 4, f"metric {metric_id} ran only {len(metric_runs)} times"
        spans = sorted((r.started_at, r.completed_at) for r in metric_runs)
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, f"metric {metric_id}: two runs overlapped"

    # Which worker ran what: each logs one line per run.
    ran_by = [{m.group(2) for m in _RAN.finditer(w.text())} for w in workers]
    assert all(ran_by), "a worker took no work"
    assert not ran_by[0] & ran_by[1]
    assert ran_by[0] | ran_by[1] == {str(r.id) for r in runs}
