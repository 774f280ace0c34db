"""REST API throughput: ``POST /metrics/{id}/values`` (one alert, log action) and
``GET /alerts`` beside a bare FastAPI route returning a constant, all served by the same
uvicorn process over a temporary SQLite database.

    .venv/bin/python bench/api.py [--seconds 5] [--concurrency 32]

The server runs in a child process so the load generator does not share its CPU time
(or its GIL); each endpoint gets a short warm-up, then a fixed window of closed-loop
load from ``--concurrency`` aiohttp workers.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve(url: str, port: int) -> None:
    import uvicorn

    from tocsin.app import create_app
    from tocsin.db.database import Database
    from tocsin.settings import Settings

    # The log action writes one line per delivery; keep it off the terminal, not off.
    logging.basicConfig(level=logging.WARNING, stream=open(os.devnull, "w"))  # noqa: SIM115
    db = Database(url)
    if os.environ.get("BENCH_SQLITE_POOL_1"):
        # Experiment: one pooled connection, so threads queue in the pool instead of in
        # SQLite's sleep-and-retry busy handler.
        from sqlalchemy.pool import QueuePool

        from tocsin.db.engine import make_engine

        db = Database(
            url, engine=make_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0)
        )
    app = create_app(db, Settings(database_url=url))

    @app.get("/bare")
    def bare() -> dict[str, bool]:
        return {"ok": True}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def seed(url: str) -> tuple[str, str]:
    """A key, and a push metric with one alert (log action) that fires on every push."""
    from tocsin.alerts.store import AlertStore
    from tocsin.api.auth import create_api_key
    from tocsin.db.database import Database
    from tocsin.metrics.store import MetricStore
    from tocsin.orgs import get_or_create_org

    db = Database(url)
    db.ensure_schema()
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "bench")
        _, key = create_api_key(conn, org_id, "bench")
        metric = MetricStore(conn, org_id).create({"name": "Issues", "source": {"type": "push"}})
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": metric.id,
                "name": "Notify if Issues > 5",
                "comparison_op": "gt",
                "threshold_value": 5,
                # No cooldown: every push notifies, the costliest path through the API.
                "cooldown_seconds": 0,
                "action_config": {"type": "log"},
            }
        )
    db.dispose()
    return key, str(metric.id)


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def load(
    session: aiohttp.ClientSession,
    name: str,
    method: str,
    url: str,
    body: Any,
    *,
    seconds: float,
    concurrency: int,
    warmup: float,
) -> Result:
    latencies: list[float] = []
    errors = 0
    stop = 0.0
    recording = False

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.request(method, url, json=body) as resp:
                await resp.read()
                ok = resp.status < 400
            if recording:
                latencies.append(time.perf_counter() - started)
                errors += 0 if ok else 1

    stop = time.perf_counter() + warmup
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    recording = True
    began = time.perf_counter()
    stop = began + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, len(latencies), errors, time.perf_counter() - began, latencies)


async def bench(base: str, key: str, metric_id: str, seconds: float, concurrency: int) -> None:
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        cases = [
            ("GET /bare (constant)", "GET", f"{base}/bare", None),
            (
                "POST /metrics/{id}/values",
                "POST",
                f"{base}/api/v1/metrics/{metric_id}/values",
                {"value": 6},
            ),
            ("GET /alerts", "GET", f"{base}/api/v1/alerts", None),
        ]
        results = []
        for name, method, url, body in cases:
            results.append(
                await load(
                    session,
                    name,
                    method,
                    url,
                    body,
                    seconds=seconds,
                    concurrency=concurrency,
                    warmup=1.0,
                )
            )
    bare = results[0].rps
    print(f"\n{seconds:g} s per endpoint, {concurrency} concurrent, uvicorn (1 worker), SQLite")
    print(f"{'endpoint':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs bare':>9}")
    for r in results:
        print(
            f"{r.name:<28}{r.rps:>9.0f}{r.percentile(0.50):>9.1f}{r.percentile(0.99):>9.1f}"
            f"{r.errors:>8}{r.rps / bare:>9.2f}"
        )


def wait_until_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), 0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        key, metric_id = seed(url)
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", url, "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, proc)
            asyncio.run(bench(base, key, metric_id, args.seconds, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
