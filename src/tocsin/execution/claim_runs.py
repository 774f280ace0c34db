"""The tick's work on PostgreSQL: claim due slots and defer one ``tocsin.run_metric`` job
for each, in one transaction, so that a crash in between can neither lose a claimed slot
nor defer a run for an unclaimed one."""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate import exceptions
from procrastinate.manager import JobManager

from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.execution.due import claim_due

logger = logging.getLogger("tocsin.worker")

CLAIM_BATCH = 500

# Deferring inside the claim's transaction goes through the caller's own psycopg
# connection (Procrastinate's ``connection=`` option). The app's connector is async and
# would wrap a sync connection in async calls, so a never-opened sync connector does it:
# with an explicit connection it never touches its own pool.
IN_TRANSACTION = JobManager(procrastinate.SyncPsycopgConnector())


def claim_and_defer(
    db: Database, run_metric: procrastinate.tasks.Task[Any, Any, Any], jobs: JobManager
) -> tuple[int, int]:
    """Claim up to ``CLAIM_BATCH`` due slots and defer their runs through ``jobs``
    (``IN_TRANSACTION``, or a test's); (claimed, deferred)."""
    with db.engine.begin() as conn:
        # The claim's UPDATE of next_run_at commits together with the jobs deferred.
        due = claim_due(conn, now=utcnow(), limit=CLAIM_BATCH)
        if not due:
            return 0, 0
        raw = conn.connection.driver_connection
        batch = [
            run_metric.configure(
                lock=f"metric:{d.metric_id}",
                queueing_lock=f"metric:{d.metric_id}",
                task_kwargs={
                    "metric_id": str(d.metric_id),
                    "scheduled_for": d.scheduled_for.isoformat(),
                },
            ).job
            for d in due
        ]
        # A savepoint per attempt: a queueing-lock conflict aborts only the INSERT, not
        # the claim. The whole batch first; one by one only when a metric already has a
        # run waiting (its slot is then skipped: never two runs queued for a metric).
        try:
            with conn.begin_nested():
                jobs.batch_defer_jobs(batch, connection=raw)
            return len(due), len(batch)
        except exceptions.AlreadyEnqueued:
            pass
        deferred = 0
        for job in batch:
            try:
                with conn.begin_nested():
                    jobs.defer_job(job, connection=raw)
                deferred += 1
            except exceptions.AlreadyEnqueued:
                logger.info(
                    "metric %s: skipping the slot at %s, a run is already waiting",
                    job.task_kwargs["metric_id"],
                    job.task_kwargs["scheduled_for"],
                )
        return len(due), deferred
