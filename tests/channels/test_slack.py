from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from pydantic import SecretStr

from tocsin.alerts.actions import DeliveryFailed, HttpError, Notification, SendResult, send_action
from tocsin.http import HttpClient
from tocsin.settings import Settings

from .channel_support import Reply, Sink, local_settings, make_notification

HOOK_PATH = "/services/T0001/B0002/hooksecret42"
BOT_TOKEN = "xoxb-111-222-tokensecret"


def deliver(action: dict[str, Any], notification: Notification, settings: Settings) -> SendResult:
    async def go() -> SendResult:
        async with HttpClient(settings) as http:
            return await send_action(action, notification, settings=settings, http=http)

    return asyncio.run(go())


def webhook_action(sink: Sink) -> dict[str, Any]:
    return {"type": "slack", "url": f"{sink.url}{HOOK_PATH}"}


def bot_settings(sink: Sink, token: str | None = BOT_TOKEN) -> Settings:
    return local_settings(
        slack_api_url=f"{sink.url}/api", slack_bot_token=SecretStr(token) if token else None
    )


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_incoming_webhook_trigger_message(sink: Sink) -> None:
    result = deliver(webhook_action(sink), make_notification(), local_settings())
    assert result.status_code == 200
    [req] = sink.requests
    assert req.path == HOOK_PATH
    body = req.json()
    assert "Open issues high" in body["text"] and "6" in body["text"]
    header = body["blocks"][0]
    assert header["type"] == "header" and "Triggered: Open issues high" in header["text"]["text"]
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    for expected in (
        "*Metric*\nOpen Issues",
        "*Value*\n6",
        "*Condition*\n&gt; 5",
        "*State*\ntriggered",
    ):
        assert expected in fields
    assert "<!date^1735787045^" in fields  # Slack renders it in the reader's timezone
    buttons = [b for b in body["blocks"] if b["type"] == "actions"]
    assert buttons[0]["elements"][0]["url"] == "https://tocsin.example/alerts/al-42"
    # The reason and the footer are the coloured part, in the message's one attachment.
    [attachment] = body["attachments"]
    reason, footer = attachment["blocks"]
    assert reason["text"]["text"] == "6 &gt; 5"
    assert footer["elements"][0]["text"] == "Tocsin alert fired"


def test_resolve_and_test_messages_differ_visibly(sink: Sink) -> None:
    deliver(webhook_action(sink), make_notification(kind="resolve", state="ok"), local_settings())
    deliver(webhook_action(sink), make_notification(kind="test"), local_settings())
    resolved, test = (r.json() for r in sink.requests)
    assert resolved["text"].startswith("Resolved: Open issues high")
    assert "Resolved: Open issues high" in resolved["blocks"][0]["text"]["text"]
    assert "Test: Open issues high" in test["blocks"][0]["text"]["text"]
    assert "no action needed" in all_text(test)
    assert "Triggered" not in all_text(resolved) + all_text(test)


@pytest.mark.parametrize(
    ("reply", "transient", "retry_after", "needle"),
    [
        (Reply(400, "invalid_payload"), False, None, "invalid_payload"),
        (Reply(404, "channel_not_found"), False, None, "channel_not_found"),
        (Reply(404, "no_service"), False, None, "no_service"),
        (Reply(429, "rate_limited", {"Retry-After": "12"}), True, 12.0, "rate_limited"),
        (Reply(500, "<html>oops</html>"), True, None, "HTTP 500"),
    ],
)
def test_incoming_webhook_errors(
    sink: Sink, reply: Reply, transient: bool, retry_after: float | None, needle: str
) -> None:
    sink.reply(reply)
    with pytest.raises(HttpError) as info:
        deliver(webhook_action(sink), make_notification(), local_settings())
    err = info.value
    assert (err.transient, err.retry_after, err.status) == (transient, retry_after, reply.status)
    assert needle in err.message
    assert "hooksecret42" not in err.message


def test_chat_post_message(sink: Sink) -> None:
    sink.reply(Reply(200, {"ok": True, "channel": "C0123", "ts": "1700000000.0001"}))
    action = {"type": "slack", "channelId": "C0123"}
    result = deliver(action, make_notification(), bot_settings(sink))
    [req] = sink.requests
    assert req.path == "/api/chat.postMessage"
    assert req.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    body = req.json()
    assert body["channel"] == "C0123"
    assert "Triggered: Open issues high" in body["blocks"][0]["text"]["text"]
    assert result.status_code == 200 and "C0123" in result.detail


def test_channel_alias_accepted(sink: Sink) -> None:
    sink.reply(Reply(200, {"ok": True}))
    deliver({"type": "slack", "channel": "C0999"}, make_notification(), bot_settings(sink))
    assert sink.requests[0].json()["channel"] == "C0999"


@pytest.mark.parametrize(
    ("error", "hint"),
    [
        ("channel_not_found", "channelId"),
        ("invalid_auth", "TOCSIN_SLACK_BOT_TOKEN"),
        ("not_in_channel", "invite"),
    ],
)
def test_chat_post_message_permanent_errors(sink: Sink, error: str, hint: str) -> None:
    sink.reply(Reply(200, {"ok": False, "error": error}))
    with pytest.raises(DeliveryFailed) as info:
        deliver({"type": "slack", "channelId": "C0123"}, make_notification(), bot_settings(sink))
    assert info.value.transient is False
    assert error in info.value.message and hint in info.value.message
    assert BOT_TOKEN not in info.value.message


def test_chat_post_message_rate_limited(sink: Sink) -> None:
    sink.reply(Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "9"}))
    with pytest.raises(DeliveryFailed) as info:
        deliver({"type": "slack", "channelId": "C0123"}, make_notification(), bot_settings(sink))
    assert (info.value.transient, info.value.retry_after) == (True, 9.0)


def test_chat_post_message_server_error(sink: Sink) -> None:
    sink.reply(Reply(503, "unavailable"))
    with pytest.raises(HttpError) as info:
        deliver({"type": "slack", "channelId": "C0123"}, make_notification(), bot_settings(sink))
    assert (info.value.transient, info.value.status) == (True, 503)


def test_missing_bot_token_is_permanent_and_sends_nothing(sink: Sink) -> None:
    with pytest.raises(DeliveryFailed) as info:
        deliver(
            {"type": "slack", "channelId": "C0123"}, make_notification(), bot_settings(sink, None)
        )
    assert info.value.transient is False
    assert "TOCSIN_SLACK_BOT_TOKEN" in info.value.message
    assert sink.requests == []


def test_no_secret_in_logs(sink: Sink, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink.reply(Reply(400, "invalid_payload"), Reply(200, {"ok": False, "error": "invalid_auth"}))
    for action, settings in (
        (webhook_action(sink), local_settings()),
        ({"type": "slack", "channelId": "C1"}, bot_settings(sink)),
    ):
        with pytest.raises(HttpError):
            deliver(action, make_notification(), settings)
    logged = " ".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "hooksecret42" not in logged and BOT_TOKEN not in logged


def test_a_series_is_named_in_the_header_and_a_field(sink: Sink) -> None:
    note = make_notification(labels={"service": "api"})
    deliver(webhook_action(sink), note, local_settings())
    [req] = sink.requests
    body = req.json()
    assert body["blocks"][0]["text"]["text"].endswith('Triggered: Open issues high{service="api"}')
    fields = " ".join(f["text"] for f in body["blocks"][1]["fields"])
    assert '*Series*\n{service="api"}' in fields
