from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from typing import Any

import pytest

from tocsin.alerts.actions import (
    REDACTED,
    ActionConfigError,
    HttpError,
    SendResult,
    redact_action,
    redact_action_config,
    trigger_action,
    validate_action,
    validate_action_config,
)
from tocsin.cli.alert_options import parse_action_spec
from tocsin.http import HttpClient

from .channel_support import Reply, Sink, local_settings

SLACK_URL = "https://hooks.slack.com/services/T01/B02/xyzSECRET"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("log", {"type": "log"}),
        (f"slack:{SLACK_URL}", {"type": "slack", "url": SLACK_URL}),
        ("slack-channel:C0123", {"type": "slack", "channelId": "C0123"}),
        (
            "webhook:https://example.com/hook",
            {"type": "webhook", "url": "https://example.com/hook"},
        ),
        ("email:ops@example.com", {"type": "email", "to": ["ops@example.com"]}),
        ("pagerduty:abc123", {"type": "pagerduty", "routing_key": "abc123", "severity": "error"}),
        (
            '{"type":"webhook","url":"https://example.com/h","secret":"s"}',
            {"type": "webhook", "url": "https://example.com/h", "secret": "s"},
        ),
    ],
)
def test_parse_action_spec(spec: str, expected: dict[str, Any]) -> None:
    assert parse_action_spec(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "sms:+4412345", "webhook:", "slack", "{not json", "[1]", "webhook:ftp://x"]
)
def test_bad_specs_explain_with_an_example(spec: str) -> None:
    with pytest.raises(ActionConfigError) as info:
        parse_action_spec(spec)
    message = str(info.value)
    assert message.startswith("--action")
    if not spec.startswith("webhook:ftp"):
        assert "e.g. --action" in message


def test_single_object_and_list_accepted() -> None:
    seed = {"type": "slack", "channelId": "C0123"}
    assert validate_action_config(seed) == [seed]
    assert validate_action_config([seed, {"type": "log"}]) == [seed, {"type": "log"}]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([], "action_config: expected at least one action"),
        ("log", "action_config: expected an action object"),
        (
            [{"type": "log"}, {"type": "webhook", "url": "nope"}],
            "action_config[1].url: expected an http(s) URL",
        ),
        (
            {"type": "sms"},
            "action_config.type: expected one of email, log, pagerduty, slack, webhook",
        ),
        ({"url": "https://x.example"}, "action_config.type: expected one of"),
        ({"type": "webhook"}, "action_config.url: required field is missing"),
        (
            {"type": "webhook", "url": "https://x.example", "sekret": "a"},
            "action_config.sekret: unknown field",
        ),
        ({"type": "slack"}, 'action_config: expected exactly one of "url"'),
        (
            {"type": "pagerduty", "routing_key": "k", "severity": "urgent"},
            "action_config.severity: Input should be",
        ),
        ([{"type": "log"}, 7], "action_config[1]: expected an object"),
    ],
)
def test_errors_name_the_field(config: Any, message: str) -> None:
    with pytest.raises(ActionConfigError) as info:
        validate_action_config(config)
    assert str(info.value).startswith(message)


def test_invalid_secret_values_are_not_echoed() -> None:
    with pytest.raises(ActionConfigError) as info:
        validate_action({"type": "webhook", "url": "hooks/xyzSECRET", "secret": "x"})
    with pytest.raises(ActionConfigError) as info2:
        validate_action({"type": "pagerduty", "routing_key": "bad key xyzSECRET"})
    assert "xyzSECRET" not in str(info.value) + str(info2.value)


def test_redaction() -> None:
    assert redact_action({"type": "slack", "url": SLACK_URL}) == {
        "type": "slack",
        "url": "https://hooks.slack.com/***",
    }
    assert redact_action({"type": "slack", "channelId": "C0123"}) == {
        "type": "slack",
        "channelId": "C0123",
    }
    assert redact_action(
        {
            "type": "webhook",
            "url": "https://h.example/p/tok?k=v",
            "secret": "s3cr3t",
            "headers": {"Authorization": "Bearer abc"},
        }
    ) == {
        "type": "webhook",
        "url": "https://h.example/***",
        "secret": REDACTED,
        "headers": {"Authorization": REDACTED},
    }
    assert redact_action({"type": "pagerduty", "routing_key": "rk1", "severity": "info"}) == {
        "type": "pagerduty",
        "routing_key": REDACTED,
        "severity": "info",
    }
    assert redact_action({"type": "email", "to": ["a@example.com"]})["to"] == ["a@example.com"]
    # Unknown types and unknown keys are hidden: nothing says they are harmless.
    assert redact_action({"type": "future", "token": "t"}) == {"type": "future", "token": REDACTED}
    assert redact_action({"type": "log", "tokn": "t"}) == {"type": "log", "tokn": REDACTED}
    assert redact_action_config([{"type": "pagerduty", "routing_key": "k"}]) == [
        {"type": "pagerduty", "routing_key": REDACTED}
    ]


class Alert:
    def __init__(self, action_config: Any) -> None:
        self.id = "al-9"
        self.name = "Queue depth"
        self.metric_id = "m-3"
        self.org_id = "org-1"
        self.action_config = action_config
        self.comparison_op = "gte"
        self.threshold_value = "100"


def run_trigger(alert: Any, value: Any) -> list[SendResult | Exception]:
    settings = local_settings()

    async def go() -> list[SendResult | Exception]:
        async with HttpClient(settings) as http:
            return await trigger_action(alert, value, settings=settings, http=http)

    return asyncio.run(go())


def test_trigger_action_sends_each_action_independently(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    sink.default = lambda rec: Reply(500, "down") if rec.path == "/bad" else Reply(200, "ok")
    alert = Alert(
        [
            {"type": "webhook", "url": f"{sink.url}/good", "secret": "k1"},
            {"type": "webhook", "url": "not a url"},
            {"type": "webhook", "url": f"{sink.url}/bad"},
            {"type": "log"},
        ]
    )
    results = run_trigger(alert, 120)

    assert isinstance(results[0], SendResult) and results[0].status_code == 200
    assert isinstance(results[1], ActionConfigError)
    assert str(results[1]).startswith("action_config[1].url")
    assert isinstance(results[2], HttpError) and results[2].transient
    assert isinstance(results[3], SendResult)
    good = next(r for r in sink.requests if r.path == "/good")
    body = json.loads(good.body)
    assert body["value"] == 120 and body["condition"] == ">= 100" and body["reason"] == "120 >= 100"
    assert body["alert"] == {"id": "al-9", "name": "Queue depth"}
    assert body["link"] == "https://tocsin.example/ui/alerts/al-9"
    signature = hmac.new(b"k1", good.body, hashlib.sha256).hexdigest()
    assert good.headers["X-Tocsin-Signature"] == f"sha256={signature}"
    # Each action's request has a key of its own: the trigger's key and the action's index.
    keys = {r.path: r.headers.get("Idempotency-Key", "") for r in sink.requests}
    assert set(keys) == {"/good", "/bad"}
    assert re.fullmatch(r"trigger-al-9-[0-9a-f]{32}-0", keys["/good"]), keys
    assert keys["/bad"] == keys["/good"].removesuffix("-0") + "-2"


def test_trigger_action_accepts_dicts_and_single_action(sink: Sink) -> None:
    alert = {
        "id": "a1",
        "name": "Drop",
        "metric_id": "m1",
        "org_id": "o1",
        "action_config": json.dumps({"type": "webhook", "url": sink.url}),
        "comparison_op": "lt",
        "threshold_value": -20,
        "condition_type": "relative_change",
    }
    [result] = run_trigger(alert, "-25.5")
    assert isinstance(result, SendResult)
    body = sink.requests[0].json()
    assert body["condition"] == "change < -20%"
    assert body["value"] == -25.5
