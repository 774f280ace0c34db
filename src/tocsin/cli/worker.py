"""``tocsin worker``: one Procrastinate worker of the distributed runtime (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from tocsin.cli.common import EXIT_BAD_INPUT, EXIT_RUNTIME, fail, state
from tocsin.cli.keys import require_key
from tocsin.settings import Settings

# Exit status after a second Ctrl-C: the conventional 128 + SIGINT.
_FORCED_EXIT = 130


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int,
        typer.Option("--concurrency", min=1, max=1000, help="Jobs this worker runs at once."),
        # Runs mostly wait on sources and the database: 10 left one worker behind a
        # 10,000-metric schedule (p99 lateness 5-7 s), 30 keeps it within 1.5 s.
    ] = 30,
    no_listen_notify: Annotated[
        bool,
        typer.Option(
            "--no-listen-notify",
            help=(
                "Poll for jobs instead of LISTEN/NOTIFY, and use no prepared statements: "
                "needed behind a transaction pooler such as Supabase's on port 6543."
            ),
        ),
    ] = False,
) -> None:
    """Run metrics and deliveries from the PostgreSQL job queue (run any number)."""
    from tocsin.db.engine import DatabaseUrlError, is_sqlite
    from tocsin.execution.distributed import WorkerTuning
    from tocsin.execution.job_queue import has_procrastinate_schema

    st = state(ctx)
    url = st.url()
    try:
        embedded = is_sqlite(url)
    except DatabaseUrlError as exc:
        fail(f"--database-url: {exc}", EXIT_BAD_INPUT)
    if embedded:
        fail(
            "--database-url: workers need PostgreSQL; on SQLite, `tocsin serve` runs the "
            "scheduler and deliveries in its own process",
            EXIT_BAD_INPUT,
        )
    try:
        WorkerTuning()
    except ValidationError as exc:
        problems = "; ".join(
            f"TOCSIN_WORKER_{str(e['loc'][0]).upper() if e['loc'] else '?'}: {e['msg']}"
            for e in exc.errors()
        )
        fail(f"invalid settings: {problems}", EXIT_BAD_INPUT)
    settings = st.settings
    db = st.database()  # refuses a schema behind head, names `tocsin db upgrade`
    require_key(db.url)  # it opens the secrets it sends with
    db.dispose()
    try:
        ready = has_procrastinate_schema(url)
    except Exception as exc:  # noqa: BLE001 - reported as a runtime failure
        fail(f"cannot reach the database: {exc}", EXIT_RUNTIME)
    if not ready:
        fail("the job queue's tables are missing: run `tocsin db upgrade` first", EXIT_RUNTIME)
    _logging()
    asyncio.run(_main(url, settings, concurrency, not no_listen_notify))


async def _main(url: str, settings: Settings, concurrency: int, listen_notify: bool) -> None:
    from tocsin.execution.distributed import run_worker

    # Everything alive now lives as long as the process: keep the collector off it (as
    # `tocsin serve` does).
    gc.collect()
    gc.freeze()

    log = logging.getLogger("tocsin.worker")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            # A second signal: the operator will not wait. Jobs cut off here are
            # recovered by another worker (stalled-jobs retry) and the sweep.
            log.warning("stopping now, abandoning running jobs")
            os._exit(_FORCED_EXIT)
        log.info("stopping: no new jobs; running ones get their grace period")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    log.info(
        "worker started (pid %d, concurrency %d, %s)",
        os.getpid(),
        concurrency,
        "LISTEN/NOTIFY" if listen_notify else "polling",
    )
    await run_worker(url, settings, concurrency=concurrency, listen_notify=listen_notify, stop=stop)
    log.info("worker stopped")


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Procrastinate logs every job start, deferral and success at INFO: a line per
    # job at scheduler rates. Tocsin logs one line per run itself.
    logging.getLogger("procrastinate").setLevel(logging.WARNING)
