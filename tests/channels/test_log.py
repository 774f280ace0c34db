from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from tocsin.alerts.actions import Notification, SendResult, send_action
from tocsin.http import HttpClient

from .channel_support import local_settings, make_notification


def deliver(note: Notification) -> SendResult:
    settings = local_settings()

    async def go() -> SendResult:
        async with HttpClient(settings) as http:
            return await send_action({"type": "log"}, note, settings=settings, http=http)

    return asyncio.run(go())


def test_trigger_logged_as_warning_with_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    result = deliver(make_notification(value=Decimal("6.50")))
    [record] = [r for r in caplog.records if r.name == "tocsin.actions"]
    assert record.levelno == logging.WARNING
    assert "Open issues high" in record.getMessage()
    fields = record.__dict__
    assert fields["alert"] == "Open issues high"
    assert fields["metric"] == "Open Issues"
    assert fields["value"] == "6.5"
    assert fields["state"] == "triggered"
    assert fields["kind"] == "trigger"
    assert result.detail == "logged"


def test_resolve_logged_as_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    deliver(make_notification(kind="resolve", state="ok"))
    [record] = caplog.records
    assert record.levelno == logging.INFO
    assert record.__dict__["kind"] == "resolve"
    assert "resolved" in record.getMessage().lower()


def test_missing_value_logged_readably(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    deliver(make_notification(kind="test", value=None))
    [record] = caplog.records
    assert record.__dict__["value"] is None
    assert "no value" in record.getMessage()
