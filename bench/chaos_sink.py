"""The webhook receiver of ``bench.chaos``: fails a share of requests with 500 at random
and remembers every ``Idempotency-Key`` it acknowledged with 200, with the times."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections import defaultdict

from aiohttp import web


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Sink:
    """An aiohttp server on 127.0.0.1, run on its own event loop in a daemon thread, so
    the bench's main thread can sleep, kill and poll databases without an event loop."""

    def __init__(self, *, fail_rate: float, seed: int, max_delay: float = 0.02) -> None:
        self.fail_rate = fail_rate
        self.max_delay = max_delay
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        # key -> monotonic arrival times of the requests answered 200
        self._acks: dict[str, list[float]] = defaultdict(list)
        self.requests = 0
        self.failed = 0
        self.without_key = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="chaos-sink", daemon=True)

    def __enter__(self) -> Sink:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def acks(self) -> dict[str, list[float]]:
        with self._lock:
            return {key: list(times) for key, times in self._acks.items()}

    async def _handle(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        await request.read()
        # A little latency keeps requests in flight when the sender is killed.
        with self._lock:
            self.requests += 1
            fail = self._rng.random() < self.fail_rate
            delay = self._rng.uniform(0, self.max_delay)
        await asyncio.sleep(delay)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            if fail:
                self.failed += 1
            elif key is None:
                self.without_key += 1
            else:
                # Recorded before the 200 leaves: whatever the sender saw, we acknowledged.
                # By arrival time: the sender sent it then, whatever became of it later.
                self._acks[key].append(arrived)
        if fail:
            return web.Response(status=500, text="chaos")
        return web.Response(text="ok")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()
