"""Delivering 5,000 webhook notifications from the outbox to a local sink.

Prints deliveries per second through Tocsin's delivery engine (claim from the database,
sign, POST through the guarded client, record the outcome) beside a raw aiohttp loop
posting the same bodies to the same sink in the same run, with the same concurrency.

    .venv/bin/python bench/deliver.py [--count 5000] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import uuid
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from sqlalchemy import insert

from bench.common import postgres_database, sqlite_database
from tocsin.alerts.delivery import Deliverer
from tocsin.crypto.keyring import keyring_for
from tocsin.db.database import Database
from tocsin.db.schema import alerts, notification_deliveries
from tocsin.http import HttpClient
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

try:
    from tocsin.alerts.actions.sealing import seal_action
except ImportError:  # the code before sealing moved beside the actions (A/B runs)
    from tocsin.crypto.fields import seal_action  # type: ignore[no-redef]

CONCURRENCY = 100


def serve_sink(port: int) -> None:
    """Answer every POST with 200; ``GET /count`` says how many it answered."""
    received = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(text="ok")

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(received))

    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_post("/{tail:.*}", handle)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def seed(db: Database, n: int, url: str) -> None:
    now = datetime.now(UTC)
    with db.begin() as conn:
        org = get_or_create_org(conn, "bench")
        metric = MetricStore(conn, org).create({"name": "m", "source": {"type": "push"}})
        alert_id = uuid.uuid4()
        # Stored as the product stores it: secrets sealed.
        action = seal_action(
            {"type": "webhook", "url": url, "secret": "bench-secret"}, keyring_for(db.url)
        )
        conn.execute(
            insert(alerts).values(
                id=alert_id,
                org_id=org,
                metric_id=metric.id,
                name="a",
                description="",
                condition_type="threshold",
                threshold_value=5,
                comparison_op="gt",
                action_config=action,
                enabled=True,
                change_mode="percent",
                lookback=1,
                cooldown_seconds=0,
                pending_evaluations=1,
                notify_on_resolve=True,
                state="ok",
                consecutive_breaches=0,
                episode_notified=False,
                created_at=now,
                updated_at=now,
            )
        )
        payload = {
            "kind": "trigger",
            "org_id": str(org),
            "alert_id": str(alert_id),
            "alert_name": "a",
            "metric_id": str(metric.id),
            "metric_name": "m",
            "value": "6",
            "baseline_value": None,
            "condition": "> 5",
            "state": "triggered",
            "reason": "6 > 5",
            "evaluated_at": now.isoformat(),
            "link": "http://127.0.0.1/alerts/x",
        }
        conn.execute(
            insert(notification_deliveries),
            [
                {
                    "id": uuid.uuid4(),
                    "org_id": org,
                    "alert_id": alert_id,
                    "history_id": None,
                    "kind": "trigger",
                    "action": action,
                    "payload": payload,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "idempotency_key": f"k-{i}",
                    "created_at": now,
                }
                for i in range(n)
            ],
        )


async def tocsin_rate(db: Database, n: int) -> float:
    settings = Settings(allow_private_networks=True)
    async with HttpClient(settings) as http:
        deliverer = Deliverer(db, settings, http, concurrency=CONCURRENCY)
        started = time.perf_counter()
        done = await deliverer.drain()
        elapsed = time.perf_counter() - started
        assert done == n, done
        return n / elapsed


async def raw_rate(url: str, n: int) -> float:
    body = json.dumps({"event": "alert.triggered", "value": 6, "reason": "6 > 5"}).encode()
    slots = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with (
                slots,
                session.post(url, data=body, headers={"Content-Type": "application/json"}) as r,
            ):
                await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    port = 18000 + uuid.uuid4().int % 1000
    sink = multiprocessing.Process(target=serve_sink, args=(port,), daemon=True)
    sink.start()
    time.sleep(1.0)
    url = f"http://127.0.0.1:{port}/hook"
    try:
        print(f"{args.count} webhook deliveries to a local sink (concurrency {CONCURRENCY})")
        print(f"{'engine':<11} {'tocsin /s':>10} {'raw aiohttp /s':>15} {'share':>6}")
        for engine in args.engines.split(","):
            factory = sqlite_database if engine == "sqlite" else postgres_database
            with factory() as db:
                seed(db, args.count, url)
                raw = asyncio.run(raw_rate(url, args.count))
                ours = asyncio.run(tocsin_rate(db, args.count))
                print(f"{engine:<11} {ours:>10,.0f} {raw:>15,.0f} {ours / raw:>5.0%}")
    finally:
        sink.terminate()


if __name__ == "__main__":
    main()
