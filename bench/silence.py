"""How soon a metric gone quiet is told: the dead-man switch end to end.

Each trial is a push metric with ``expect_every`` (``--every``, default 3 s) and an alert
whose webhook posts to a local receiver. Every metric gets one value, pushes spread over
one period (so they meet the runtime's one-second pass at every phase), then nothing. The
figure is how long after its last push each metric's ``alert.no_data`` webhook arrived:
the switch's own wait (the period plus 10% grace) plus how late the runtime noticed and
delivered. Printed per runtime (embedded on SQLite; PostgreSQL with one ``tocsin worker``):
p50 / p99 of the delay, of the lateness past the grace, and the delay as a multiple of
the period; beside them, measured in the same run, how long a pushed breach took to
reach the same receiver (the ordinary path, the baseline).

    .venv/bin/python -m bench.silence [--trials 20] [--every 3] [--runtimes embedded,pg]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import postgres_database, sqlite_database
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.execution.embedded import EmbeddedRuntime
from tocsin.execution.runs import run_now
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

TOCSIN = Path(sys.executable).with_name("tocsin")
GRACE = 1.1  # the switch waits its period plus 10%
SETTINGS = Settings(allow_private_networks=True)


@dataclass
class Receiver:
    """The webhook receiver: when each alert's events arrived (wall clock, as the
    database's completion times are)."""

    arrived: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrived.setdefault((body["alert"]["id"], body["event"]), []).append(time.time())
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/hook"

    def first_after(self, key: tuple[str, str], moment: float) -> float | None:
        return next((t for t in self.arrived.get(key, []) if t > moment), None)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class Trial:
    metric_id: uuid.UUID
    alert_id: uuid.UUID
    pushed_at: float = 0.0  # the push's completion time, epoch seconds


def seed(db: Database, trials: int, every: int, url: str) -> tuple[uuid.UUID, list[Trial]]:
    out = []
    with db.begin() as conn:
        org = get_or_create_org(conn, "bench")
        metrics, alerts = MetricStore(conn, org), AlertStore(conn, org)
        for i in range(trials + 1):  # the last one is the breach baseline's, no switch
            switch = {"expect_every_seconds": every} if i < trials else {}
            metric = metrics.create({"name": f"m{i}", "source": {"type": "push"}} | switch)
            alert = alerts.create_alert(
                {
                    "metric_id": metric.id,
                    "name": f"a{i}",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "cooldown_seconds": 0,
                    "action_config": {"type": "webhook", "url": url},
                }
            )
            out.append(Trial(metric.id, alert.id))
    return org, out


async def push(db: Database, org: uuid.UUID, trial: Trial, value: int, http: HttpClient) -> None:
    report = await run_now(
        db, org, trial.metric_id, settings=SETTINGS, http=http, value=value, has_value=True
    )
    done = report.execution.completed_at or datetime.now(UTC)
    trial.pushed_at = done.timestamp()


async def measure(
    db: Database, org: uuid.UUID, trials: list[Trial], receiver: Receiver, every: int
) -> dict[str, list[float]]:
    quiet, baseline = trials[:-1], trials[-1]
    async with HttpClient(SETTINGS) as http:
        # The breach baseline: a pushed value over the threshold to its webhook.
        breach: list[float] = []
        fired = (str(baseline.alert_id), "alert.triggered")
        for _ in range(5):
            start = time.time()
            await push(db, org, baseline, 9, http)
            while (arrival := receiver.first_after(fired, start)) is None:
                await asyncio.sleep(0.001)
            breach.append(arrival - start)
            await push(db, org, baseline, 1, http)
        for i, trial in enumerate(quiet):
            await asyncio.sleep(every / len(quiet) if i else 0)
            await push(db, org, trial, 1, http)
    deadline = time.monotonic() + every * GRACE + 30
    keys = [(str(t.alert_id), "alert.no_data") for t in quiet]

    def arrivals() -> list[float | None]:
        return [receiver.first_after(k, t.pushed_at) for k, t in zip(keys, quiet, strict=True)]

    while None in (found := arrivals()):
        if time.monotonic() > deadline:
            missing = found.count(None)
            raise RuntimeError(f"{missing} of {len(keys)} no-data webhooks never arrived")
        await asyncio.sleep(0.01)
    delays = [a - t.pushed_at for a, t in zip(found, quiet, strict=True) if a is not None]
    return {"delay": delays, "breach": breach}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(name: str, figures: dict[str, list[float]], every: int) -> None:
    delays = figures["delay"]
    late = [d - every * GRACE for d in delays]
    breach = statistics.median(figures["breach"])
    print(
        f"{name:<18} delay p50 {pct(delays, 0.5):6.3f} s  p99 {pct(delays, 0.99):6.3f} s  "
        f"({pct(delays, 0.5) / every:.2f}x / {pct(delays, 0.99) / every:.2f}x the period)  "
        f"past the grace p50 {pct(late, 0.5):6.3f} s  p99 {pct(late, 0.99):6.3f} s  "
        f"breach->webhook p50 {breach * 1000:6.1f} ms (n={len(delays)})"
    )


async def _embedded(args: argparse.Namespace) -> dict[str, list[float]]:
    with sqlite_database() as db:
        receiver = Receiver()
        await receiver.start()
        org, trials = seed(db, args.trials, args.every, receiver.url)
        stop = asyncio.Event()
        runtime = EmbeddedRuntime(db, SETTINGS)
        task = asyncio.create_task(runtime.run(stop))
        try:
            return await measure(db, org, trials, receiver, args.every)
        finally:
            stop.set()
            await task
            await receiver.stop()


@contextmanager
def worker(db: Database) -> Iterator[None]:
    from tocsin.execution.job_queue import apply_procrastinate_schema

    apply_procrastinate_schema(db.url)
    proc = subprocess.Popen(
        [str(TOCSIN), "--database-url", db.url, "worker"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"},
    )
    try:
        time.sleep(3)  # up and ticking before the first push
        yield
    finally:
        proc.terminate()
        proc.wait(30)


async def _postgres(args: argparse.Namespace) -> dict[str, list[float]]:
    with postgres_database() as db:
        receiver = Receiver()
        await receiver.start()
        try:
            with worker(db):
                # Seeded once the worker is up: the switch counts from the seeding.
                org, trials = seed(db, args.trials, args.every, receiver.url)
                return await measure(db, org, trials, receiver, args.every)
        finally:
            await receiver.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--every", type=int, default=3, help="expect_every, in seconds")
    parser.add_argument("--runtimes", default="embedded,pg")
    args = parser.parse_args(argv)
    print(f"{args.trials} quiet push metrics, expect_every {args.every}s (+10% grace)")
    runners: dict[str, Any] = {"embedded": _embedded, "pg": _postgres}
    names = {"embedded": "embedded (SQLite)", "pg": "postgresql x1"}
    for runtime in args.runtimes.split(","):
        report(names[runtime], asyncio.run(runners[runtime](args)), args.every)


if __name__ == "__main__":
    main()
