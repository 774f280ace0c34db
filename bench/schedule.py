"""Scheduling 10,000 metrics on 60-second schedules with a trivial (``demo``) source.

For each runtime (embedded on SQLite; PostgreSQL with 1 and with 2 ``tocsin worker``
processes) it prints:

- start lateness p50 / p99 (``started_at - scheduled_for``) and executions per second
  over ``--seconds`` of steady running. The metrics' first slots are spread evenly over
  one period, as metrics created over time are; the steady rate is therefore bounded
  by the schedule (10,000 / 60 s = 167/s), not by the runtime.
- burst capacity: every metric made due at once, runs per second until all 10,000 ran.
- beside the PostgreSQL rows, measured in the same run on the same database,
  Procrastinate's raw rate for no-op jobs with as many worker processes at the same
  concurrency: the ceiling the metric runs are compared with.

    .venv/bin/python -m bench.schedule [--seconds 180] [--metrics 10000]
        [--runtimes embedded,pg1,pg2] [--concurrency 10]
        [--alerts-per-metric 1 --action webhook]

With ``--alerts-per-metric N`` each metric gets N alerts whose condition flips every run
(the demo series alternates 9 and 1 against ``> 5``, resolve notices on), so every run
evaluates N alerts and each of them notifies: ``--action webhook`` posts to a local sink
(its own process, counted and reported), ``--action log`` writes a log line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update

from bench.common import postgres_database, sqlite_database
from bench.deliver import serve_sink
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

TOCSIN = Path(sys.executable).with_name("tocsin")
# First slots start this far ahead, so that workers are up before the measured period.
LEAD_SECONDS = 5.0
BURST_TIMEOUT = 240.0
NOOP_JOBS = 10_000


@dataclass
class Figures:
    runtime: str
    p50: float | None = None
    p99: float | None = None
    steady_rate: float | None = None
    runs: int = 0
    missed: int = 0
    burst_rate: float | None = None
    sent_rate: float | None = None
    cpu_ms_per_run: float | None = None
    raw_rate: float | None = None

    def row(self) -> str:
        def f(value: float | None, unit: str = "", digits: int = 2) -> str:
            return "-" if value is None else f"{value:.{digits}f}{unit}"

        return (
            f"{self.runtime:<16} {f(self.p50, ' s'):>10} {f(self.p99, ' s'):>10} "
            f"{f(self.steady_rate, '/s', 1):>11} {self.missed:>7} "
            f"{f(self.burst_rate, '/s', 0):>10} {f(self.sent_rate, '/s', 0):>10} "
            f"{f(self.cpu_ms_per_run, ' ms', 2):>10} {f(self.raw_rate, '/s', 0):>10}"
        )

    def take(self, b: Burst) -> None:
        self.burst_rate, self.sent_rate, self.cpu_ms_per_run = b.rate, b.sent_rate, b.cpu_ms_per_run


HEADER = (
    f"{'runtime':<16} {'p50 late':>10} {'p99 late':>10} {'runs/s':>11} {'missed':>7} "
    f"{'burst':>10} {'sent':>10} {'cpu/run':>10} {'raw no-op':>10}"
)


def seed(db: Database, n: int, every: int, alerts: int = 0, action: Any = None) -> datetime:
    """``n`` demo metrics, first slots spread over one period from LEAD_SECONDS on, each
    with ``alerts`` alerts notifying through ``action`` on every run."""
    now = datetime.now(UTC)
    # With alerts, a series that crosses the threshold on every run.
    source: dict[str, Any] = {"type": "demo"}
    if alerts:
        source["values"] = [9, 1]
    with db.begin() as conn:
        org = get_or_create_org(conn, "bench")
        rows = [
            {
                "id": uuid.uuid4(),
                "org_id": org,
                "name": f"metric {i}",
                "description": "",
                "source": source,
                "selector": None,
                "schedule": {"every_seconds": every},
                "enabled": True,
                # Set below, once everything is seeded (alerts take a while).
                "next_run_at": None,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(n)
        ]
        for chunk in range(0, n, 2000):
            conn.execute(insert(metrics), rows[chunk : chunk + 2000])
        store = AlertStore(conn, org)
        for row in rows:
            for k in range(alerts):
                store.create_alert(
                    {
                        "name": f"{row['name']} alert {k}",
                        "metric_id": row["id"],
                        "condition_type": "threshold",
                        "comparison_op": "gt",
                        "threshold_value": 5,
                        "cooldown_seconds": 0,
                        "notify_on_resolve": True,
                        "action_config": action,
                    }
                )
    start = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    with db.begin() as conn:
        conn.execute(
            update(metrics)
            .where(metrics.c.id == bindparam("b_id"))
            .values(next_run_at=bindparam("b_next")),
            [
                {"b_id": row["id"], "b_next": start + timedelta(seconds=every * i / n)}
                for i, row in enumerate(rows)
            ],
        )
    return start


class WebhookSink:
    """A webhook receiver in its own process (so its work is not the runtime's), which
    counts what it received: ``GET /count``."""

    def __init__(self) -> None:
        from bench.chaos_sink import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        ctx = multiprocessing.get_context("spawn")
        self._proc = ctx.Process(target=serve_sink, args=(self.port,), daemon=True)

    def __enter__(self) -> WebhookSink:
        self._proc.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.count()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the webhook sink did not start")

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(10)

    def count(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as r:
            return int(r.read())


@contextmanager
def sink_for(args: argparse.Namespace) -> Iterator[WebhookSink | None]:
    if not (args.alerts_per_metric and args.action == "webhook"):
        yield None
        return
    with WebhookSink() as sink:
        yield sink


def action_for(args: argparse.Namespace, sink: WebhookSink | None) -> Any:
    if not args.alerts_per_metric:
        return None
    if args.action == "webhook":
        assert sink is not None
        return {"type": "webhook", "url": sink.url}
    return {"type": "log"}


def steady_figures(db: Database, fig: Figures, since: datetime, until: datetime) -> None:
    """Lateness of the slots due in [since, until - 5 s]; a slot not started by ``until``
    is missed. Executions/s: runs started in [since, until]."""
    cutoff = until - timedelta(seconds=5)
    with db.connect() as conn:
        rows = conn.execute(
            select(metric_executions.c.scheduled_for, metric_executions.c.started_at).where(
                metric_executions.c.scheduled_for >= since,
                metric_executions.c.scheduled_for < cutoff,
            )
        ).all()
        started = conn.execute(
            select(func.count()).where(
                metric_executions.c.started_at >= since, metric_executions.c.started_at <= until
            )
        ).scalar_one()
    late = sorted((r.started_at - r.scheduled_for).total_seconds() for r in rows)
    if late:
        fig.p50 = statistics.median(late)
        fig.p99 = late[min(len(late) - 1, int(len(late) * 0.99))]
    fig.runs = len(late)
    fig.steady_rate = started / (until - since).total_seconds()


def expected_slots(n: int, every: int, start: datetime, since: datetime, until: datetime) -> int:
    """Slots of the seeded schedule that fall in [since, until)."""
    count = 0
    for i in range(n):
        first = start + timedelta(seconds=every * i / n)
        if first >= until:
            continue
        k0 = max(0, int(((since - first).total_seconds() + every - 1e-9) // every))
        k1 = int(((until - first).total_seconds() - 1e-9) // every)
        count += max(0, k1 - k0 + 1)
    return count


@dataclass
class Burst:
    rate: float | None = None
    sent_rate: float | None = None
    cpu_ms_per_run: float | None = None


def cpu_seconds(pids: list[int] | None) -> float:
    """CPU time (user + system) of these processes, or of this one."""
    if pids is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def burst(
    db: Database, n: int, sink: WebhookSink | None = None, pids: list[int] | None = None
) -> Burst:
    """Make every metric due now; runs/s from the first start to the last completion,
    webhooks/s received by the sink over the same burst, CPU per run of the runtime.

    A metric whose previous run is still queued skips this slot (never two runs
    waiting for one metric), so the burst ends when the count stops growing."""
    figures = Burst()
    sent_before = sink.count() if sink else 0
    cpu_before = cpu_seconds(pids)
    at = datetime.now(UTC)
    started = time.monotonic()
    with db.begin() as conn:
        conn.execute(update(metrics).values(next_run_at=at))
    query = select(
        func.count(),
        func.min(metric_executions.c.started_at),
        func.max(metric_executions.c.completed_at),
    ).where(metric_executions.c.scheduled_for == at, metric_executions.c.completed_at.is_not(None))
    deadline = time.monotonic() + BURST_TIMEOUT
    seen, still_since = -1, time.monotonic()
    sent, sent_since, last_sent_at = 0, time.monotonic(), started
    while time.monotonic() < deadline:
        with db.connect() as conn:
            done, first, last = conn.execute(query).one()
        if done != seen:
            seen, still_since = done, time.monotonic()
        if sink is not None:
            now_sent = sink.count() - sent_before
            if now_sent != sent:
                sent, sent_since, last_sent_at = now_sent, time.monotonic(), time.monotonic()
        runs_settled = done >= n or (done and time.monotonic() - still_since > 10)
        sends_settled = sink is None or time.monotonic() - sent_since > 3
        if runs_settled and sends_settled:
            if done < n:
                print(f"  burst: {n - done} metrics skipped the slot", file=sys.stderr)
            figures.rate = float(done / max((last - first).total_seconds(), 1e-3))
            figures.cpu_ms_per_run = 1000 * (cpu_seconds(pids) - cpu_before) / max(done, 1)
            if sink is not None:
                figures.sent_rate = sent / max(last_sent_at - started, 1e-3)
            return figures
        time.sleep(0.5)
    print(f"  burst: only {seen} of {n} runs after {BURST_TIMEOUT:.0f}s", file=sys.stderr)
    return figures


# Embedded --------------------------------------------------------------------------


def run_embedded(args: argparse.Namespace) -> Figures | None:
    try:
        from tocsin.execution.embedded import EmbeddedRuntime
    except ImportError:
        print("embedded: tocsin.execution.embedded is not there yet; skipped", file=sys.stderr)
        return None
    fig = Figures("embedded")
    with sqlite_database() as db, sink_for(args) as sink:
        start = seed(db, args.metrics, args.every, args.alerts_per_metric, action_for(args, sink))
        settings = Settings(database_url=db.url, allow_private_networks=True)

        async def go() -> None:
            stop = asyncio.Event()
            runtime = EmbeddedRuntime(db, settings)
            task = asyncio.create_task(runtime.run(stop))
            await asyncio.sleep(LEAD_SECONDS + args.seconds)
            until = datetime.now(UTC)
            steady_figures(db, fig, start, until)
            fig.missed = (
                expected_slots(args.metrics, args.every, start, start, until - timedelta(seconds=5))
                - fig.runs
            )
            fig.take(await asyncio.to_thread(burst, db, args.metrics, sink))
            stop.set()
            await task

        asyncio.run(go())
    return fig


# PostgreSQL ------------------------------------------------------------------------


def run_postgres(args: argparse.Namespace, workers: int) -> Figures:
    from tocsin.execution.job_queue import apply_procrastinate_schema

    fig = Figures(f"postgresql x{workers}")
    with postgres_database() as db, sink_for(args) as sink:
        apply_procrastinate_schema(db.url)
        start = seed(db, args.metrics, args.every, args.alerts_per_metric, action_for(args, sink))
        procs = [
            subprocess.Popen(
                [
                    str(TOCSIN),
                    "--database-url",
                    db.url,
                    "worker",
                    "--concurrency",
                    str(args.concurrency),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"},
            )
            for _ in range(workers)
        ]
        try:
            time.sleep(LEAD_SECONDS + args.seconds)
            until = datetime.now(UTC)
            steady_figures(db, fig, start, until)
            fig.missed = (
                expected_slots(args.metrics, args.every, start, start, until - timedelta(seconds=5))
                - fig.runs
            )
            fig.take(burst(db, args.metrics, sink, [p.pid for p in procs]))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        fig.raw_rate = raw_noop_rate(db, workers, args.concurrency)
    return fig


def _noop_app(conninfo: str) -> Any:
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    @app.task(name="bench.noop")
    async def noop() -> None:
        return None

    return app


def _noop_worker(conninfo: str, concurrency: int, go: Any) -> None:
    logging.disable(logging.CRITICAL)
    app = _noop_app(conninfo)

    async def main() -> None:
        async with app.open_async():
            go.wait()
            await app.run_worker_async(
                concurrency=concurrency,
                wait=False,
                listen_notify=False,
                install_signal_handlers=False,
                delete_jobs="never",
            )

    asyncio.run(main())


def raw_noop_rate(db: Database, workers: int, concurrency: int) -> float:
    """No-op jobs/s through Procrastinate alone, from the first start to the last
    success (its event table), with ``workers`` processes at ``concurrency``."""
    from tocsin.execution.job_queue import libpq_conninfo

    conninfo = libpq_conninfo(db.url)
    with db.begin() as conn:
        conn.execute(text("TRUNCATE procrastinate_jobs CASCADE"))

    async def defer() -> None:
        app = _noop_app(conninfo)
        async with app.open_async():
            deferrer = app.configure_task("bench.noop")
            for chunk in range(0, NOOP_JOBS, 1000):
                await deferrer.batch_defer_async(*({} for _ in range(min(1000, NOOP_JOBS - chunk))))

    asyncio.run(defer())
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    procs = [
        ctx.Process(target=_noop_worker, args=(conninfo, concurrency, go)) for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(2)  # every process connected and waiting: the start is not what we time
    go.set()
    for proc in procs:
        proc.join(300)
    with db.connect() as conn:
        first, last, done = conn.execute(
            text(
                "SELECT min(at) FILTER (WHERE type = 'started'), "
                "max(at) FILTER (WHERE type = 'succeeded'), "
                "count(*) FILTER (WHERE type = 'succeeded') FROM procrastinate_events"
            )
        ).one()
    return float(done / max((last - first).total_seconds(), 1e-3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="steady period measured")
    parser.add_argument("--metrics", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=60, help="schedule period, seconds")
    parser.add_argument("--concurrency", type=int, default=30, help="per worker process")
    parser.add_argument("--runtimes", default="embedded,pg1,pg2")
    parser.add_argument("--alerts-per-metric", type=int, default=0)
    parser.add_argument("--action", choices=["webhook", "log"], default="webhook")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    figures: list[Figures] = []
    for name in args.runtimes.split(","):
        print(f"running {name} for {args.seconds:.0f}s ...", file=sys.stderr, flush=True)
        if name == "embedded":
            fig = run_embedded(args)
        elif name.startswith("pg"):
            fig = run_postgres(args, int(name[2:] or 1))
        else:
            parser.error(f"--runtimes: unknown runtime {name!r}; expected embedded, pg1, pg2")
        if fig is not None:
            figures.append(fig)
            print(fig.row(), file=sys.stderr, flush=True)

    print(
        f"\n{args.metrics} metrics every {args.every}s (demo source), {args.seconds:.0f}s steady; "
        f"worker concurrency {args.concurrency}; "
        + (
            f"{args.alerts_per_metric} alert(s) per metric, notifying by {args.action} every run"
            if args.alerts_per_metric
            else "no alerts"
        )
    )
    print(HEADER)
    for fig in figures:
        print(fig.row())
    print(
        "\nrate target: metric runs/s (burst) >= half the raw no-op job rate; "
        "lateness targets: p99 <= 1 s embedded, <= 2 s PostgreSQL."
    )


if __name__ == "__main__":
    main()
