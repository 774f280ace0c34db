"""Web UI render times: the alerts page with 1,000 alerts, an alert's page whose alert
has 10,000 history rows, its chart data over all runs, and the metrics page, beside a
bare route returning a constant HTML page from the same uvicorn process.

    .venv/bin/python -m bench.ui [--db sqlite,postgresql] [--requests 40]

Server time is measured from the client as sequential requests (one at a time, so it is
the time one person waits); in the browser (Debian's Chromium, when installed), the time
from navigation until the page is loaded and, on the alert page, its chart is drawn.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import insert, update

from bench.common import databases
from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import alert_history, alerts, metric_executions
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

ALERTS = 1_000
METRICS = 100
RUNS_PER_METRIC = 40
BIG_HISTORY = 10_000
STATES = ["ok"] * 6 + ["triggered", "pending", "no_data", "error"]


def seed(db: Database) -> str:
    """1,000 alerts over 100 metrics with recent runs, and one alert with 10,000
    evaluations (fired, suppressed and resolved among them). Returns that alert's id."""
    rng = random.Random(7)
    now = utcnow()
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "default")
        store = AlertStore(conn, org_id)
        metric_ids = []
        for m in range(METRICS):
            metric = MetricStore(conn, org_id).create(
                {"name": f"metric {m:03d}", "source": {"type": "push"}}
            )
            metric_ids.append(metric.id)
        runs = []
        for metric_id in metric_ids[1:]:
            for r in range(RUNS_PER_METRIC):
                at = now - timedelta(minutes=RUNS_PER_METRIC - r)
                runs.append(_run(metric_id, org_id, at, rng.randint(0, 20)))
        conn.execute(insert(metric_executions), runs)
        for a in range(ALERTS):
            store.create_alert(
                {
                    "metric_id": metric_ids[a % METRICS],
                    "name": f"alert {a:04d}",
                    "comparison_op": "gt",
                    "threshold_value": rng.randint(1, 20),
                    "action_config": {"type": "log"},
                }
            )
        for state in set(STATES):
            conn.execute(
                update(alerts)
                .where(alerts.c.org_id == org_id, alerts.c.name.like(f"%{STATES.index(state)}"))
                .values(state=state, last_value=7, last_triggered_at=now - timedelta(hours=1))
            )
        big = store.get_alert("alert 0000")  # on metric 000, which has no runs yet
        executions, history = [], []
        state = "ok"
        for i in range(BIG_HISTORY):
            at = now - timedelta(minutes=BIG_HISTORY - i)
            value = 5 + round(4 * ((i % 50) / 25 - 1), 2)
            run = _run(big.metric_id, org_id, at, value)
            executions.append(run)
            breach = value > float(big.threshold_value)
            new = "triggered" if breach else "ok"
            notified = breach and state != "triggered" and i % 3 == 0
            reason = f"{value} {'>' if breach else '<='} {big.threshold_value}"
            if breach and state != "triggered" and not notified:
                reason += "; triggered; not sent: cooldown: last sent 20 min ago"
            history.append(
                {
                    "id": uuid.uuid4(),
                    "alert_id": big.id,
                    "org_id": org_id,
                    "execution_id": run["id"],
                    "evaluated_at": at,
                    "value": value,
                    "baseline_value": None,
                    "triggered": breach,
                    "state_from": state,
                    "state_to": new,
                    "notified": notified,
                    "reason": reason,
                }
            )
            state = new
        conn.execute(insert(metric_executions), executions)
        conn.execute(insert(alert_history), history)
    return str(big.id)


def _run(metric_id: uuid.UUID, org_id: uuid.UUID, at: Any, value: float) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "metric_id": metric_id,
        "org_id": org_id,
        "status": "completed",
        "trigger": "push",
        "started_at": at,
        "completed_at": at,
        "result": value,
        "value": value,
        "evaluated_at": at,
    }


def _serve(url: str, port: int) -> None:
    import logging

    import uvicorn
    from fastapi.responses import HTMLResponse

    from tocsin.app import create_app
    from tocsin.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    db = Database(url)
    app = create_app(db, Settings(database_url=url), ui_bind_host="127.0.0.1")

    @app.get("/bare", response_class=HTMLResponse)
    def bare() -> str:
        return "<!doctype html><title>bare</title><p>ok</p>"

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def server(url: str) -> Iterator[str]:
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(url, port))
    proc.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/bare", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise
            time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.join(10)


def timings(client: httpx.Client, url: str, n: int) -> list[float]:
    for _ in range(3):
        client.get(url).raise_for_status()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        resp = client.get(url)
        resp.raise_for_status()
        out.append((time.perf_counter() - started) * 1000)
    return out


def browser_timings(base: str, alert_id: str, n: int) -> dict[str, list[float]]:
    if not os.path.exists("/usr/bin/chromium"):
        return {}
    from playwright.sync_api import sync_playwright

    pages = {
        "bare page": (f"{base}/bare", None),
        "alerts page (1,000 alerts)": (f"{base}/ui/", None),
        "alert page, chart drawn (24 h)": (f"{base}/ui/alerts/{alert_id}", "#chart[data-ready]"),
        "alert page, chart drawn (all 10k runs)": (
            f"{base}/ui/alerts/{alert_id}?range=all",
            "#chart[data-ready]",
        ),
    }
    out: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        for name, (url, ready) in pages.items():
            page.goto(url)  # warm-up
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                page.goto(url, wait_until="load")
                if ready:
                    page.wait_for_selector(ready, state="attached")
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = samples
        browser.close()
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--browser-loads", type=int, default=8)
    args = parser.parse_args()
    for kind, ctx in databases(args.db.split(",")):
        with ctx as db:  # type: ignore[attr-defined]
            started = time.perf_counter()
            alert_id = seed(db)
            print(
                f"\n{kind}: seeded {ALERTS} alerts, {BIG_HISTORY} history rows "
                f"in {time.perf_counter() - started:.1f} s"
            )
            with server(db.url) as base, httpx.Client(timeout=30) as client:
                urls = {
                    "bare route": f"{base}/bare",
                    "alerts page (1,000 alerts)": f"{base}/ui/",
                    "alert page (10k history)": f"{base}/ui/alerts/{alert_id}",
                    "chart data, 24 h": f"{base}/ui/alerts/{alert_id}/chart.json",
                    "chart data, all 10k runs": f"{base}/ui/alerts/{alert_id}/chart.json?range=all",
                    "metrics page (100 metrics)": f"{base}/ui/metrics",
                }
                results = {name: timings(client, url, args.requests) for name, url in urls.items()}
                base_p50 = statistics.median(results["bare route"])
                print(f"  server, sequential ({args.requests} requests each):")
                print(f"    {'':40} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs bare':>12}")
                for name, values in results.items():
                    mid = statistics.median(values)
                    tail = p(values, 0.99)
                    print(f"    {name:40} {mid:8.1f} {tail:8.1f} {mid / base_p50:11.1f}x")
                shown = browser_timings(base, alert_id, args.browser_loads)
                if shown:
                    bare = statistics.median(shown["bare page"])
                    print(f"  Chromium, navigation to load ({args.browser_loads} loads each):")
                    for name, values in shown.items():
                        mid = statistics.median(values)
                        print(
                            f"    {name:40} {mid:8.1f} {p(values, 0.99):8.1f} {mid / bare:11.1f}x"
                        )


if __name__ == "__main__":
    main()
