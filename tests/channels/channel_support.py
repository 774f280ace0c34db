"""Real local servers and sample data for channel tests (used via conftest fixtures)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import AuthResult, Envelope

from tocsin.alerts.actions import Notification
from tocsin.settings import Settings


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: str | dict[str, Any] | list[Any] = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


ReplyFn = Callable[[Recorded], Reply]


class Sink:
    """An HTTP server that records every request and answers from a script."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[Recorded] = []
        self.script: deque[Reply | ReplyFn] = deque()
        self.default: Reply | ReplyFn = Reply()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reply(self, *replies: Reply | ReplyFn) -> None:
        self.script.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec = Recorded(
            request.method,
            request.path,
            request.query_string,
            dict(request.headers),
            await request.read(),
            (peer[0], peer[1]) if peer else ("", 0),
        )
        self.requests.append(rec)
        answer = self.script.popleft() if self.script else self.default
        reply = answer(rec) if callable(answer) else answer
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if isinstance(reply.body, str):
            return web.Response(status=reply.status, text=reply.body, headers=reply.headers)
        return web.json_response(reply.body, status=reply.status, headers=reply.headers)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def start(self) -> Sink:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def local_settings(**overrides: Any) -> Settings:
    """Settings that let the client reach the loopback test servers."""
    values: dict[str, Any] = {
        "allow_private_networks": True,
        "http_timeout_seconds": 5.0,
        "public_url": "https://tocsin.example",
        "database_url": "sqlite://",
    }
    values.update(overrides)
    return Settings(**values)


def make_notification(**overrides: Any) -> Notification:
    values: dict[str, Any] = {
        "kind": "trigger",
        "org_id": "org-1",
        "alert_id": "al-42",
        "alert_name": "Open issues high",
        "metric_id": "m-7",
        "metric_name": "Open Issues",
        "value": Decimal("6"),
        "baseline_value": None,
        "condition": "> 5",
        "state": "triggered",
        "reason": "6 > 5",
        "evaluated_at": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        "link": "https://tocsin.example/alerts/al-42",
        "idempotency_key": "dlv-1001",
    }
    values.update(overrides)
    return Notification(**values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SmtpRecorder:
    """aiosmtpd handler: records envelopes; ``rcpt_reply`` scripts RCPT failures."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_reply: str | None = None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: Any, session: Any, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: SmtpRecorder
    logins: list[tuple[bytes, bytes]]


def authenticator(logins: list[tuple[bytes, bytes]]) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"right-password", handled=False)

    return check
