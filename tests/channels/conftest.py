"""Fixtures: real local servers for channel tests (HTTP sink, SMTP)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from .channel_support import Sink, SmtpRecorder, SmtpServer, authenticator, free_port


@pytest.fixture
def sink6() -> Iterator[Sink]:
    try:
        server = Sink("::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    handler = SmtpRecorder()
    logins: list[tuple[bytes, bytes]] = []
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator(logins),
        auth_require_tls=False,
    )
    controller.start()
    yield SmtpServer("127.0.0.1", port, handler, logins)
    controller.stop()
