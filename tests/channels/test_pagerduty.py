from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tocsin.alerts.actions import HttpError, Notification, SendResult, send_action
from tocsin.http import HttpClient

from .channel_support import Reply, Sink, local_settings, make_notification

KEY = "R0UT1NGKEYabcdef0123456789abcdef"


def deliver(sink: Sink, note: Notification, **action: Any) -> SendResult:
    settings = local_settings(pagerduty_events_url=f"{sink.url}/v2/enqueue")
    config = {"type": "pagerduty", "routing_key": KEY, **action}

    async def go() -> SendResult:
        async with HttpClient(settings) as http:
            return await send_action(config, note, settings=settings, http=http)

    return asyncio.run(go())


ACCEPTED = Reply(202, {"status": "success", "message": "Event processed", "dedup_key": "x"})


def test_trigger_event(sink: Sink) -> None:
    sink.reply(ACCEPTED)
    result = deliver(sink, make_notification())
    assert result.status_code == 202
    [req] = sink.requests
    assert req.path == "/v2/enqueue"
    body = req.json()
    assert body["routing_key"] == KEY
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "tocsin-al-42"
    payload = body["payload"]
    assert payload["severity"] == "error"
    assert payload["source"] == "tocsin"
    assert "Open issues high" in payload["summary"] and "6" in payload["summary"]
    assert payload["custom_details"]["value"] == "6"
    assert payload["custom_details"]["condition"] == "> 5"
    assert body["links"] == [
        {"href": "https://tocsin.example/alerts/al-42", "text": "Alert in Tocsin"}
    ]


def test_resolve_uses_same_dedup_key(sink: Sink) -> None:
    sink.default = ACCEPTED
    deliver(sink, make_notification(), severity="critical")
    deliver(sink, make_notification(kind="resolve", state="ok"), severity="critical")
    trigger, resolve = (r.json() for r in sink.requests)
    assert trigger["payload"]["severity"] == "critical"
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"] == "tocsin-al-42"


def test_test_notification_uses_separate_dedup_key(sink: Sink) -> None:
    sink.reply(ACCEPTED)
    deliver(sink, make_notification(kind="test"))
    body = sink.requests[0].json()
    assert (body["event_action"], body["dedup_key"]) == ("trigger", "tocsin-test-al-42")
    assert body["payload"]["summary"].startswith("[TEST]")


@pytest.mark.parametrize(
    ("reply", "transient"),
    [
        (
            Reply(
                400,
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["'routing_key' is invalid"],
                },
            ),
            False,
        ),
        (Reply(429, {"status": "throttle"}), True),
        (Reply(500, "oops"), True),
    ],
)
def test_errors(sink: Sink, reply: Reply, transient: bool) -> None:
    sink.reply(reply)
    with pytest.raises(HttpError) as info:
        deliver(sink, make_notification())
    assert (info.value.transient, info.value.status) == (transient, reply.status)
    assert KEY not in info.value.message
    if reply.status == 400:
        assert "Event object is invalid" in info.value.message


def test_each_series_is_its_own_incident(sink: Sink) -> None:
    # Given notifications of two series of one alert, and a resolve of the first
    sink.default = ACCEPTED
    api, web = {"service": "api"}, {"service": "web"}
    deliver(sink, make_notification(labels=api))
    deliver(sink, make_notification(labels=web))
    deliver(sink, make_notification(kind="resolve", state="ok", labels=api))
    first, second, resolve = (r.json() for r in sink.requests)
    # Then each series has its dedup key, shared by its trigger and its resolve
    assert first["dedup_key"] != second["dedup_key"]
    assert first["dedup_key"].startswith("tocsin-al-42-")
    assert resolve["dedup_key"] == first["dedup_key"]
    # and the summary names the series
    assert 'Open Issues{service="api"} = 6' in first["payload"]["summary"]
    assert first["payload"]["custom_details"]["labels"] == api
