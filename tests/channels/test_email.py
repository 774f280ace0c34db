from __future__ import annotations

import asyncio
import email
import logging
from email.message import Message
from typing import Any

import pytest
from pydantic import SecretStr

from tocsin.alerts.actions import (
    ActionConfigError,
    DeliveryFailed,
    Notification,
    SendResult,
    send_action,
    validate_action,
)
from tocsin.http import HttpClient
from tocsin.settings import Settings

from .channel_support import SmtpServer, free_port, local_settings, make_notification

PASSWORD = "smtp-pass-never-shown"


def smtp_settings(server: SmtpServer, **extra: Any) -> Settings:
    return local_settings(
        smtp_host=server.host, smtp_port=server.port, smtp_from="alerts@tocsin.test", **extra
    )


def deliver(action: dict[str, Any], note: Notification, settings: Settings) -> SendResult:
    async def go() -> SendResult:
        async with HttpClient(settings) as http:
            return await send_action(action, note, settings=settings, http=http)

    return asyncio.run(go())


def parts(msg: Message) -> dict[str, str]:
    found = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode()
    return found


def test_trigger_mail(smtp_server: SmtpServer) -> None:
    action = {"type": "email", "to": ["ops@example.com", "lead@example.com"]}
    result = deliver(action, make_notification(), smtp_settings(smtp_server))

    assert result.status_code == 250
    [env] = smtp_server.handler.envelopes
    assert env.mail_from == "alerts@tocsin.test"
    assert env.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert isinstance(env.content, bytes)
    msg = email.message_from_bytes(env.content)
    assert msg["Subject"] == "[Tocsin] TRIGGERED: Open issues high"
    assert msg["To"] == "ops@example.com, lead@example.com"
    assert msg["Message-ID"] == "<dlv-1001@tocsin>"
    bodies = parts(msg)
    assert set(bodies) == {"text/plain", "text/html"}
    for needle in ("Open Issues", "Value: 6", "Condition: > 5", "tocsin.example/alerts/al-42"):
        assert needle in bodies["text/plain"]
    assert "<table>" in bodies["text/html"] and "&gt; 5" in bodies["text/html"]
    assert 'href="https://tocsin.example/alerts/al-42"' in bodies["text/html"]


@pytest.mark.parametrize(("kind", "label"), [("resolve", "RESOLVED"), ("test", "TEST")])
def test_resolve_and_test_subjects(smtp_server: SmtpServer, kind: str, label: str) -> None:
    deliver(
        {"type": "email", "to": "ops@example.com"},
        make_notification(kind=kind),
        smtp_settings(smtp_server),
    )
    msg = email.message_from_bytes(smtp_server.handler.envelopes[0].content)  # type: ignore[arg-type]
    assert msg["Subject"] == f"[Tocsin] {label}: Open issues high"


@pytest.mark.parametrize(
    ("reply", "transient"),
    [("450 4.2.1 Mailbox busy", True), ("550 5.1.1 No such user", False)],
)
def test_recipient_refusals(smtp_server: SmtpServer, reply: str, transient: bool) -> None:
    smtp_server.handler.rcpt_reply = reply
    with pytest.raises(DeliveryFailed) as info:
        deliver(
            {"type": "email", "to": "x@example.com"},
            make_notification(),
            smtp_settings(smtp_server),
        )
    assert info.value.transient is transient
    assert smtp_server.handler.envelopes == []


def test_connection_refused_is_transient() -> None:
    settings = local_settings(smtp_host="127.0.0.1", smtp_port=free_port())
    with pytest.raises(DeliveryFailed) as info:
        deliver({"type": "email", "to": "x@example.com"}, make_notification(), settings)
    assert info.value.transient is True
    assert "SMTP connection" in info.value.message


def test_login_used_and_failure_is_permanent_without_password(
    smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = smtp_settings(
        smtp_server, smtp_username="tocsin", smtp_password=SecretStr("right-password")
    )
    deliver({"type": "email", "to": "x@example.com"}, make_notification(), good)
    assert smtp_server.logins == [(b"tocsin", b"right-password")]

    bad = smtp_settings(smtp_server, smtp_username="tocsin", smtp_password=SecretStr(PASSWORD))
    with pytest.raises(DeliveryFailed) as info:
        deliver({"type": "email", "to": "x@example.com"}, make_notification(), bad)
    assert info.value.transient is False
    assert "TOCSIN_SMTP_PASSWORD" in info.value.message
    assert PASSWORD not in info.value.message
    assert all(PASSWORD not in r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert len(smtp_server.handler.envelopes) == 1


@pytest.mark.parametrize("to", ["not-an-address", ["ok@example.com", "bad@"], [], "a@b..com"])
def test_addresses_validated_at_config_time(to: object) -> None:
    with pytest.raises(ActionConfigError) as info:
        validate_action({"type": "email", "to": to})
    assert str(info.value).startswith("action_config.to:")


def test_single_address_normalised_to_list() -> None:
    assert validate_action({"type": "email", "to": "a@example.com"}) == {
        "type": "email",
        "to": ["a@example.com"],
    }


def test_a_series_is_named_in_the_subject_and_the_body(smtp_server: SmtpServer) -> None:
    action = {"type": "email", "to": ["ops@example.com"]}
    note = make_notification(labels={"service": "api"})
    deliver(action, note, smtp_settings(smtp_server))
    [env] = smtp_server.handler.envelopes
    assert isinstance(env.content, bytes)
    msg = email.message_from_bytes(env.content)
    assert msg["Subject"] == '[Tocsin] TRIGGERED: Open issues high{service="api"}'
    assert 'Series: {service="api"}' in parts(msg)["text/plain"]
