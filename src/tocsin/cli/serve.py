"""``tocsin serve`` and ``tocsin demo``: the long-running service."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from tocsin import __version__
from tocsin.alerts.store import AlertStore
from tocsin.cli.common import EXIT_BAD_INPUT, EXIT_RUNTIME, CliState, fail, guarded, state
from tocsin.cli.keys import require_key
from tocsin.db.database import Database
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.tasks import RunOutcome
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings
from tocsin.web.access import login_required

DEMO_ORG = "demo"
DEMO_METRIC = "Open Issues"
DEMO_ALERT = "Notify if Issues > 5"


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)


def _quiet_server(config: Any) -> Any:
    """A uvicorn server that, once Ctrl-C/SIGTERM has shut it down gracefully, returns
    instead of re-raising the signal, so the runner beside it can finish its work."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            originals = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
            try:
                yield
            finally:
                for sig, handler in originals.items():
                    signal.signal(sig, handler)

    return Server(config)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="API only; run `tocsin worker` elsewhere.")
    ] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=1000)] = 50,
) -> None:
    """Run the REST API, with the scheduler and delivery runner in-process."""
    import uvicorn

    from tocsin.app import create_app

    st = state(ctx)
    db = st.database()
    require_key(db.url)  # it seals what it saves and opens what it sends
    settings = st.settings
    _logging()
    runtime: EmbeddedRuntime | None = None
    status: Any = None
    if db.is_sqlite:
        if no_worker:
            fail(
                "--no-worker: the embedded database has no separate workers; "
                "drop the flag or use PostgreSQL",
                EXIT_BAD_INPUT,
            )
        runtime = EmbeddedRuntime(db, settings, concurrency=concurrency)
        status = runtime.status.public
    elif not no_worker:
        from tocsin.execution.job_queue import has_procrastinate_schema

        if not has_procrastinate_schema(db.url):
            fail("the job queue tables are missing: run `tocsin db upgrade` first", EXIT_RUNTIME)

        def status() -> dict[str, Any]:
            task = worker_task[0] if worker_task else None
            return {"kind": "procrastinate", "alive": task is not None and not task.done()}

    worker_task: list[asyncio.Task[None]] = []
    app = create_app(db, settings, runner_status=status, ui_bind_host=host, ui_org=st.org)
    typer.echo(serve_banner(st, host, port, runtime is not None, no_worker), err=True)
    # Everything alive now lives as long as the process: keep the collector off it.
    gc.collect()
    gc.freeze()

    async def main() -> None:
        stop = asyncio.Event()
        server = _quiet_server(uvicorn.Config(app, host=host, port=port, log_level="info"))
        background: asyncio.Task[None] | None = None
        if runtime is not None:
            background = asyncio.create_task(runtime.run(stop))
        elif not no_worker:
            from tocsin.execution.distributed import run_worker

            background = asyncio.create_task(
                run_worker(db.url, settings, concurrency=concurrency, listen_notify=True, stop=stop)
            )
            worker_task.append(background)
        try:
            await server.serve()  # returns on Ctrl-C / SIGTERM
        finally:
            stop.set()
            if background is not None:
                await background

    asyncio.run(main())


def serve_banner(st: Any, host: str, port: int, embedded: bool, no_worker: bool) -> str:
    """Where the UI and API are, on which database, with which runtime."""
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    if embedded:
        runtime = "embedded (scheduler and delivery runner in this process)"
    elif no_worker:
        runtime = "none here (--no-worker): run `tocsin worker` beside it"
    else:
        runtime = "Procrastinate worker in this process; more with `tocsin worker`"
    login = "API key login" if login_required(st.settings, host) else f"org {st.org!r}, no login"
    return "\n".join(
        [
            f"Tocsin {__version__}",
            f"  web UI:   {base}/ui/  ({login})",
            f"  REST API: {base}/api/v1  (schema: {base}/openapi.json)",
            f"  database: {_where(st)}",
            f"  runtime:  {runtime}",
        ]
    )


def seed_demo(db: Database, every_seconds: int = 1) -> None:
    """A fresh "Open Issues" demo metric rising past 5, and the seed's alert on it."""
    with db.begin() as conn:
        org_id = get_or_create_org(conn, DEMO_ORG)
        metrics = MetricStore(conn, org_id)
        if metrics.find(DEMO_METRIC) is not None:
            metrics.delete(DEMO_METRIC)  # its alert and history go with it
        metric = metrics.create(
            {
                "name": DEMO_METRIC,
                "description": "A simulated count of open issues: 2, 3, 4, 5, 6, 7, 8, 4, 3, ...",
                "source": {"type": "demo"},
                "schedule": {"every_seconds": every_seconds},
            }
        )
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": DEMO_ALERT,
                "condition_type": "threshold",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": {"type": "log"},
            }
        )


def demo(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Exit 0 after the first firing.")] = False,
    timeout: Annotated[
        int, typer.Option("--timeout", help="With --once: give up after this many seconds.")
    ] = 60,
) -> None:
    """Seed a demo metric and alert, run the service, and show each evaluation."""
    st = state(ctx)
    db = st.database()
    guarded(lambda: seed_demo(db))
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    # The log action is the demo's notification channel: let its line through.
    logging.getLogger("tocsin.actions").setLevel(logging.INFO)
    typer.echo(f"Tocsin demo on {_where(st)}")
    typer.echo(
        f'Metric "{DEMO_METRIC}" (a simulated series, every second) with the alert '
        f'"{DEMO_ALERT}" (log action), in org "{DEMO_ORG}".'
    )
    typer.echo(
        "Evaluations as they happen"
        + (" (until the first firing):" if once else " (Ctrl-C to stop):")
    )
    fired = asyncio.run(_run_demo(db, st.settings, once=once, timeout=timeout))
    _where_next(st)
    if once and not fired:
        fail(f"no firing within {timeout}s", EXIT_RUNTIME)


# What the demo prints after an evaluation that notifies, by the notification's kind.
_DEMO_MARKS = {
    "trigger": "  FIRED: notifying",
    "resolve": "  resolved: notifying",
    "no_data": "  NO DATA: notifying",
    "error": "  ERROR: notifying",
    "recovered": "  recovered: notifying",
}


async def _run_demo(db: Database, settings: Settings, *, once: bool, timeout: int) -> bool:
    stop = asyncio.Event()
    fired = False
    _stop_on_signals(stop)

    def show(outcome: RunOutcome) -> None:
        nonlocal fired
        at = outcome.execution.completed_at
        clock = at.strftime("%H:%M:%S") if at else "--:--:--"
        for e in outcome.evaluation.evaluated:
            d = e.decision
            value = "?" if d.value is None else d.value
            mark = _DEMO_MARKS.get(d.notify or "", "")
            typer.echo(
                f"  {clock}  {DEMO_METRIC} = {value}  {d.state_from} -> {d.state_to}  "
                f"({d.reason}){mark}"
            )
            if d.notify == "trigger":
                fired = True
                if once:
                    stop.set()

    runtime = EmbeddedRuntime(db, settings, tick_seconds=0.5, on_run=show)
    task = asyncio.create_task(runtime.run(stop))
    if once:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout)
        stop.set()
    await task
    return fired


def _where(st: CliState) -> str:
    url = st.url()
    if url.startswith("sqlite"):
        return url.replace("sqlite:///", "")
    parsed = make_url(url)
    return f"PostgreSQL {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database}"


def _where_next(st: CliState) -> None:
    typer.echo("\nWhere to look next:")
    typer.echo(f'  tocsin --org {DEMO_ORG} alert history "{DEMO_ALERT}"')
    typer.echo(f"  tocsin --org {DEMO_ORG} deliveries list")
    typer.echo(f'  tocsin --org {DEMO_ORG} alert show "{DEMO_ALERT}" --json')
    typer.echo(f"  tocsin --org {DEMO_ORG} serve   # the web UI and API on http://127.0.0.1:8000")
