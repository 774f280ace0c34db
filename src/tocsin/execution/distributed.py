"""The distributed runtime's worker: a Procrastinate app on PostgreSQL with Tocsin's
tasks (:mod:`tocsin.execution.jobs`, where what each task does is described), run until
stopped and started again after a lost connection.

Tuning comes from ``TOCSIN_WORKER_*`` variables (:class:`WorkerTuning`).

Supabase's transaction pooler (port 6543) supports neither LISTEN/NOTIFY nor prepared
statements across transactions: run workers with ``--no-listen-notify`` there (they poll
for jobs every ``TOCSIN_WORKER_POLL_SECONDS``, default 1 s without LISTEN), which also
turns off psycopg's automatic statement preparation on Procrastinate's connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from typing import Any

import procrastinate
from procrastinate.jobs import DeleteJobCondition
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tocsin.db.database import Database
from tocsin.db.liveness import idle_checked_pool
from tocsin.db.native import open_native_pool
from tocsin.db.retention import prepare_partitions
from tocsin.execution.backoff import Backoff
from tocsin.execution.job_queue import libpq_conninfo
from tocsin.execution.jobs import RUNTIME_KEY, Runtime, blueprint
from tocsin.execution.pg_runs import PostgresRunStore
from tocsin.execution.recorder import RunRecorder
from tocsin.execution.upkeep import analyze_job_queue
from tocsin.http import HttpClient
from tocsin.settings import Settings

logger = logging.getLogger("tocsin.worker")


class WorkerTuning(BaseSettings):
    """``TOCSIN_WORKER_*``: how fast a dead worker is noticed, how long a stop waits."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_WORKER_", extra="ignore")

    heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    # A worker silent for this long is dead: its jobs are retried by another worker.
    stalled_after_seconds: float = Field(default=30.0, gt=0, le=3600)
    # On SIGTERM/Ctrl-C running jobs get this long to finish before they are cancelled.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)
    # How often to look for jobs without a notification; default 5 s with LISTEN (a
    # fallback only), 1 s without it (the only way jobs are found).
    poll_seconds: float | None = Field(default=None, gt=0, le=300)

    @model_validator(mode="after")
    def _stall_outlasts_heartbeat(self) -> WorkerTuning:
        if self.stalled_after_seconds < 2 * self.heartbeat_seconds:
            raise ValueError(
                "stalled_after_seconds must be at least twice heartbeat_seconds, or "
                "live workers would be taken for dead"
            )
        return self


def make_app(
    database_url: str, *, pool_max_size: int = 10, pooler_safe: bool = False
) -> procrastinate.App:
    """The Procrastinate app with Tocsin's tasks. ``pooler_safe`` disables prepared
    statements, which a transaction-mode pooler (Supabase on 6543) cannot keep."""
    connect_kwargs: dict[str, Any] = {"prepare_threshold": None} if pooler_safe else {}
    connector = procrastinate.PsycopgConnector(
        pool_factory=idle_checked_pool,
        conninfo=libpq_conninfo(database_url),
        min_size=1,
        max_size=max(2, pool_max_size),
        kwargs=connect_kwargs,
    )
    app = procrastinate.App(connector=connector)
    # No namespace: it would prefix the task names ("ns:tocsin.tick"), and jobs already
    # in the table under the plain names would find no task.
    app.add_tasks_from(blueprint(), namespace="")
    return app


async def run_worker(
    database_url: str,
    settings: Settings,
    *,
    concurrency: int,
    listen_notify: bool,
    stop: asyncio.Event | None = None,
    tuning: WorkerTuning | None = None,
) -> None:
    """Run a Procrastinate worker, with the periodic tasks, until ``stop`` is set.

    On ``stop`` the worker takes no new jobs and gives running ones
    ``TOCSIN_WORKER_SHUTDOWN_GRACE_SECONDS`` before cancelling them (a cancelled run is
    finished by the sweep). A lost database connection stops a Procrastinate worker; this
    starts a fresh one after a backoff (1 s doubling to 30 s), so the process rides out
    a database restart.
    """
    stop = stop or asyncio.Event()
    tuning = tuning or WorkerTuning()
    app = make_app(
        database_url, pool_max_size=min(concurrency + 4, 20), pooler_safe=not listen_notify
    )
    poll = tuning.poll_seconds or (5.0 if listen_notify else 1.0)
    options: dict[str, Any] = {
        "name": f"tocsin@{socket.gethostname()}:{os.getpid()}",
        "concurrency": concurrency,
        "listen_notify": listen_notify,
        "fetch_job_polling_interval": poll,
        "abort_job_polling_interval": max(poll, 5.0),
        "shutdown_graceful_timeout": tuning.shutdown_grace_seconds,
        # Signals belong to the caller (the CLI, or uvicorn under `tocsin serve`).
        "install_signal_handlers": False,
        "update_heartbeat_interval": tuning.heartbeat_seconds,
        "stalled_worker_timeout": tuning.stalled_after_seconds,
        "delete_jobs": DeleteJobCondition.SUCCESSFUL,
    }
    db = Database(database_url)
    try:
        async with (
            HttpClient(settings) as http,
            open_native_pool(
                libpq_conninfo(database_url),
                max_size=concurrency + 2,
                pooler_safe=not listen_notify,
            ) as native,
        ):
            runs = PostgresRunStore(db, settings, native)
            recorder = RunRecorder(db, settings, http, runs)
            # Every job gets these in its context (the worker copies the dict per job).
            options["additional_context"] = {
                RUNTIME_KEY: Runtime(
                    db=db,
                    settings=settings,
                    http=http,
                    stalled_after_seconds=tuning.stalled_after_seconds,
                    runs=runs,
                    recorder=recorder,
                )
            }
            await asyncio.to_thread(analyze_job_queue, database_url)
            # This month's history partition and the next ones before the first run
            # writes, not at the first prune (up to PRUNE_SECONDS later).
            await asyncio.to_thread(prepare_partitions, db)
            try:
                await _restart_until_stopped(app, options, stop)
            finally:
                await recorder.close(tuning.shutdown_grace_seconds)
    finally:
        db.dispose()


async def _restart_until_stopped(
    app: procrastinate.App, options: dict[str, Any], stop: asyncio.Event
) -> None:
    backoff = Backoff()
    while not stop.is_set():
        began = time.monotonic()
        attempt = asyncio.create_task(_work(app, options))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            # Cancelling run_worker_async is Procrastinate's graceful stop.
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await attempt
            return
        stopping.cancel()
        error = attempt.exception()
        # A worker that ran a good while was healthy: this failure starts over.
        if time.monotonic() - began > 60:
            backoff.succeeded()
        delay = backoff.failed()
        logger.warning(
            "worker stopped (%s); starting again in %.0f s",
            f"{type(error).__name__}: {error}" if error else "its connection was lost",
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def _work(app: procrastinate.App, options: dict[str, Any]) -> None:
    async with app.open_async():
        await app.run_worker_async(**options)
