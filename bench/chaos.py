"""Reliability under crashes: SIGKILL the runtime under load, count duplicates and losses.

``--metrics`` demo metrics run every second, each with one alert (``> 5``, no cooldown)
whose values alternate 0, 10, 0, ... so that every run triggers or resolves it and every
run queues one webhook delivery. The webhook goes to a local sink (aiohttp on 127.0.0.1)
that answers ``--fail-rate`` of the requests with 500 at random (so retries are always in
flight) and remembers every Idempotency-Key it answered with 200, and how often.

- ``--mode embedded``: a fresh SQLite database in a temp dir and ``tocsin serve``, killed
  with SIGKILL ``--kills`` times at random moments and restarted each time.
- ``--mode postgres``: a throw-away PostgreSQL cluster (initdb into a temp dir, served on
  a free port on 127.0.0.1), ``tocsin db upgrade``, two ``tocsin worker`` processes, of
  which one at random is SIGKILLed ``--kills`` times in all (and restarted), and the
  cluster itself restarted with ``pg_ctl restart -m immediate`` (a server crash)
  ``--pg-restarts`` times.

After ``--seconds`` under load, the metrics are disabled and the runtime runs clean until
nothing is left to do (no pending delivery, no running or unevaluated execution; on
PostgreSQL, no queued run job) or ``--drain-seconds`` pass; then everything is stopped
and the counts are printed. Recovery timings are shortened in the children's environment
so that a drain fits in a minute: delivery lease 5 s, backoff 0.5-4 s, demo source
timeout 1 s (abandoned runs are failed after 13 s), on PostgreSQL worker heartbeat 1 s
and stalled after 3 s.

The definitions of *stuck*, *lost* and *duplicate* are in ``bench.chaos_report`` and are
printed with the figures. The exit status is 1 if anything was lost or stuck, or a
delivery failed for good.

    .venv/bin/python -m bench.chaos --mode embedded|postgres [--seconds 60] [--kills 5]
        [--fail-rate 0.3] [--seed 1] [--metrics 20]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from cryptography.fernet import Fernet
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from bench.chaos_procs import Child, PgCluster, run_tocsin, wait_http_ok
from bench.chaos_report import Figures, collect, render, unfinished
from bench.chaos_sink import Sink, free_port
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.db.schema import metrics
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

# Shortened recovery timings (see the module docstring); everything else is the default.
CHILD_SETTINGS = {
    "TOCSIN_ALLOW_PRIVATE_NETWORKS": "true",
    "TOCSIN_DELIVERY_LEASE_SECONDS": "5",
    "TOCSIN_DELIVERY_BACKOFF_BASE_SECONDS": "0.5",
    "TOCSIN_DELIVERY_BACKOFF_MAX_SECONDS": "4",
    "TOCSIN_WORKER_HEARTBEAT_SECONDS": "1",
    "TOCSIN_WORKER_STALLED_AFTER_SECONDS": "3",
    "TOCSIN_WORKER_SHUTDOWN_GRACE_SECONDS": "5",
}
WORKERS = 2


def child_env(database_url: str) -> dict[str, str]:
    # The caller's own TOCSIN_* settings would change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    env.update(CHILD_SETTINGS)
    env["TOCSIN_DATABASE_URL"] = database_url
    env["TOCSIN_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    # This process seals the alerts' secrets it seeds: with the key its children open them with.
    os.environ["TOCSIN_ENCRYPTION_KEY"] = env["TOCSIN_ENCRYPTION_KEY"]
    return env


def seed(db: Database, count: int, sink_url: str) -> None:
    with db.begin() as conn:
        org = get_or_create_org(conn, "chaos")
        for i in range(count):
            metric = MetricStore(conn, org).create(
                {
                    "name": f"flip {i}",
                    "source": {"type": "demo", "values": [0, 10], "timeout_seconds": 1},
                    "schedule": {"every_seconds": 1},
                }
            )
            AlertStore(conn, org).create_alert(
                {
                    "metric_id": metric.id,
                    "name": f"flip {i} > 5",
                    "comparison_op": "gt",
                    "threshold_value": 5,
                    "cooldown_seconds": 0,
                    "action_config": {"type": "webhook", "url": sink_url},
                }
            )


def watch(children: list[Child], seconds: float, fig: Figures) -> None:
    """Sleep, restarting any child that died without being killed."""
    until = time.monotonic() + seconds
    while (left := until - time.monotonic()) > 0:
        time.sleep(min(0.2, left))
        for child in children:
            if not child.alive():
                fig.self_exits += 1
                print(f"  {child.name} exited on its own; restarted", file=sys.stderr)
                child.start()


def retrying(db: Database, read: Callable[[], int | tuple[int, ...]]) -> int | tuple[int, ...]:
    """``read`` again after a connection broken by a database restart."""
    for attempt in range(20):
        try:
            return read()
        except DBAPIError:
            if attempt == 19:
                raise
            db.engine.dispose()
            time.sleep(0.5)
    raise AssertionError("unreachable")


def drain(
    db: Database,
    children: list[Child],
    fig: Figures,
    seconds: float,
    began: float,
    jobs: bool = False,
) -> None:
    """Stop scheduling and wait until nothing is left to do, or ``seconds`` pass."""

    def disable() -> int:
        with db.begin() as conn:
            return int(conn.execute(update(metrics).values(enabled=False)).rowcount)

    def left() -> tuple[int, ...]:
        counts = unfinished(db)
        return (*counts, queued_runs(db)) if jobs else counts

    retrying(db, disable)
    fig.load_seconds = time.monotonic() - began
    note("metrics disabled; draining")
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        watch(children, 0.5, fig)
        counts = retrying(db, left)
        assert isinstance(counts, tuple)
        if not any(counts):
            fig.drained_in = time.monotonic() - started
            return
    print(f"  not drained after {seconds:.0f} s: {counts}", file=sys.stderr)


def queued_runs(db: Database) -> int:
    with db.connect() as conn:
        found = conn.execute(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
                "AND task_name IN ('tocsin.run_metric', 'tocsin.deliver')"
            )
        ).scalar_one()
    return int(found)


def note(event: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {event}", file=sys.stderr, flush=True)


def gaps(rng: random.Random, count: int, seconds: float) -> list[float]:
    """``count`` random waits (between half and one and a half of an even share)."""
    share = seconds / (count + 1)
    return [rng.uniform(0.5, 1.5) * share for _ in range(count)]


def run_embedded(args: argparse.Namespace, rng: random.Random, tmp: Path) -> Figures:
    fig = Figures("embedded", metrics=args.metrics)
    url = f"sqlite:///{tmp}/chaos.db"
    env = child_env(url)
    run_tocsin(["db", "upgrade"], env)
    port = free_port()
    health = f"http://127.0.0.1:{port}/healthz"
    serve = Child("serve", ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp)
    db = Database(url)
    events: list[float] = []
    try:
        with Sink(fail_rate=args.fail_rate, seed=args.seed, max_delay=args.sink_delay) as sink:
            seed(db, args.metrics, sink.url)
            began = time.monotonic()
            serve.start()
            wait_http_ok(health, 30)
            for wait in gaps(rng, args.kills, args.seconds):
                watch([serve], wait, fig)
                events.append(time.monotonic())
                serve.kill()
                note(f"killed serve (pid {serve.pid})")
                fig.kills += 1
                serve.start()
                if not wait_http_ok(health, 30):
                    print("  serve did not answer /healthz within 30 s", file=sys.stderr)
            watch([serve], max(0.0, args.seconds - (time.monotonic() - began)), fig)
            drain(db, [serve], fig, args.drain_seconds, began)
            serve.stop()
            fig.sink_requests, fig.sink_500s = sink.requests, sink.failed
            collect(db, fig, sink.acks(), events, tmp / "duplicates.json" if args.keep else None)
    finally:
        shield()
        serve.stop()
        db.dispose()
    return fig


def run_postgres(args: argparse.Namespace, rng: random.Random, tmp: Path) -> Figures:
    fig = Figures("postgres", metrics=args.metrics)
    # The server runs as the postgres user when we are root: it must reach its directory.
    tmp.chmod(0o711)
    (tmp / "pg").mkdir()
    cluster = PgCluster(tmp / "pg", free_port())
    workers = [
        Child(f"worker{i}", ["worker", "--concurrency", "10"], {}, tmp) for i in range(WORKERS)
    ]
    db: Database | None = None
    events: list[float] = []
    try:
        cluster.create()
        env = child_env(cluster.url)
        for worker in workers:
            worker.env = env
        run_tocsin(["db", "upgrade"], env)
        db = Database(cluster.url)
        plan = ["kill"] * args.kills + ["restart"] * args.pg_restarts
        rng.shuffle(plan)
        with Sink(fail_rate=args.fail_rate, seed=args.seed, max_delay=args.sink_delay) as sink:
            seed(db, args.metrics, sink.url)
            began = time.monotonic()
            for worker in workers:
                worker.start()
            for kind, wait in zip(plan, gaps(rng, len(plan), args.seconds), strict=True):
                watch(workers, wait, fig)
                if kind == "kill":
                    victim = rng.choice(workers)
                    events.append(time.monotonic())
                    victim.kill()
                    note(f"killed {victim.name} (pid {victim.pid})")
                    fig.kills += 1
                    victim.start()
                else:
                    events.append(time.monotonic())
                    note("restarting PostgreSQL (-m immediate)")
                    down = time.monotonic()
                    cluster.restart_immediate()
                    fig.restart_seconds.append(time.monotonic() - down)
                    note("PostgreSQL is back")
                    fig.restarts += 1
            watch(workers, max(0.0, args.seconds - (time.monotonic() - began)), fig)
            drain(db, workers, fig, args.drain_seconds, began, jobs=True)
            for worker in workers:
                worker.stop()
            fig.sink_requests, fig.sink_500s = sink.requests, sink.failed
            collect(db, fig, sink.acks(), events, tmp / "duplicates.json" if args.keep else None)
            fig.jobs_left = queued_runs(db)
    finally:
        shield()
        for worker in workers:
            worker.stop()
        if db is not None:
            db.dispose()
        cluster.remove(keep_log=tmp / "postgresql.log")
    return fig


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def shield() -> None:
    """From here on, Ctrl-C and SIGTERM no longer cut the clean-up short: every child
    must be stopped (and the cluster removed) before we exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("embedded", "postgres"), required=True)
    parser.add_argument("--seconds", type=float, default=60.0, help="time under load")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--pg-restarts", type=int, default=None, help="default 1, 2 from 4 kills")
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument(
        "--sink-delay", type=float, default=0.2, help="the sink answers after 0 to this, s"
    )
    parser.add_argument("--drain-seconds", type=float, default=75.0)
    parser.add_argument("--keep", action="store_true", help="keep the children's logs")
    args = parser.parse_args()
    if args.pg_restarts is None:
        args.pg_restarts = 2 if args.kills >= 4 else 1
    if args.mode == "embedded":
        args.pg_restarts = 0
    signal.signal(signal.SIGTERM, _interrupt)
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-chaos-"))
    kept = "kept" if args.keep else "removed at the end"
    print(f"chaos {args.mode}: logs under {tmp} ({kept})", file=sys.stderr)
    try:
        runner = run_embedded if args.mode == "embedded" else run_postgres
        fig = runner(args, rng, tmp)
    except KeyboardInterrupt:
        print("interrupted: every child was stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    victims = "tocsin serve" if args.mode == "embedded" else f"{WORKERS} tocsin workers"
    header = (
        f"chaos, {args.mode}: {args.metrics} metrics every 1 s, {args.seconds:.0f} s under "
        f"load, {victims} SIGKILLed {fig.kills} times"
        + (f", PostgreSQL crashed {fig.restarts} times" if fig.restarts else "")
        + f"; sink failing {args.fail_rate:.0%} with 500 (seed {args.seed})"
    )
    print(render(fig, header))
    # The sink only ever answers 200 or 500 (transient): a delivery that failed for good
    # means the run itself is broken (a key it cannot decrypt with, a refused URL).
    broken = fig.deliveries["failed"]
    if broken:
        print(f"  broken         {broken} deliveries failed permanently", file=sys.stderr)
    sys.exit(1 if fig.lost or fig.stuck or broken else 0)


if __name__ == "__main__":
    main()
