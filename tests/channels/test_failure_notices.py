"""Failure notices (``no_data``, ``error``, ``recovered``) through every channel.

Each channel sends to the real local servers of ``conftest`` (the HTTP sink, the SMTP
server), so these tests read what a receiver would get.
"""

from __future__ import annotations

import asyncio
import email
import hashlib
import hmac
import json
import logging
from decimal import Decimal
from email.message import Message
from typing import Any, get_args

import pytest

from tocsin.alerts.actions import Notification, NotificationKind, SendResult, send_action
from tocsin.alerts.actions.base import event_name, kind_label, summary_line
from tocsin.http import HttpClient
from tocsin.settings import Settings

from .channel_support import Reply, Sink, SmtpServer, local_settings, make_notification

SECRET = "whsec-failure-notices"
ROUTING_KEY = "R0UT1NGKEYfailure0123456789abcd"
API = {"service": "api"}
NO_DATA_REASON = "no value received for 10m"
ERROR_REASON = "execution failed: HTTP 500 from http://x/metrics"
# What a source's error text can look like: mrkdwn and HTML control characters, braces
# (format fields), a mention, non-ASCII and a second line. It must arrive unchanged.
ODD_REASON = (
    'execution failed: HTTP 500 from http://x/q?a=1&b=<2>: {"detail": "{value}"} '
    "<!channel> \u00fcber \u2013 timeout\nsecond line"
)
FAILURE_KINDS: tuple[NotificationKind, ...] = ("no_data", "error", "recovered")


# What the decision core puts in a failure notice: no value, the source's reason.
NOTICE_FIELDS: dict[NotificationKind, dict[str, Any]] = {
    "no_data": {"value": None, "state": "no_data", "reason": NO_DATA_REASON},
    "error": {"value": None, "state": "error", "reason": ERROR_REASON},
    "recovered": {"value": Decimal("4"), "state": "ok", "reason": "4 <= 5"},
}


def notice(kind: NotificationKind, **overrides: Any) -> Notification:
    return make_notification(kind=kind, **{**NOTICE_FIELDS[kind], **overrides})


def deliver(action: dict[str, Any], note: Notification, settings: Settings) -> SendResult:
    async def go() -> SendResult:
        async with HttpClient(settings) as http:
            return await send_action(action, note, settings=settings, http=http)

    return asyncio.run(go())


def slack_body(sink: Sink, note: Notification) -> dict[str, Any]:
    deliver({"type": "slack", "url": f"{sink.url}/services/T1/B2/x"}, note, local_settings())
    body: dict[str, Any] = sink.requests[-1].json()
    return body


def pagerduty_bodies(sink: Sink, *notes: Notification, severity: str) -> list[dict[str, Any]]:
    sink.default = Reply(202, {"status": "success"})
    settings = local_settings(pagerduty_events_url=f"{sink.url}/v2/enqueue")
    action = {"type": "pagerduty", "routing_key": ROUTING_KEY, "severity": severity}
    for note in notes:
        deliver(action, note, settings)
    return [r.json() for r in sink.requests]


def mail(server: SmtpServer, note: Notification) -> Message:
    settings = local_settings(
        smtp_host=server.host, smtp_port=server.port, smtp_from="alerts@tocsin.test"
    )
    deliver({"type": "email", "to": ["ops@example.com"]}, note, settings)
    content = server.handler.envelopes[-1].content
    assert isinstance(content, bytes)
    return email.message_from_bytes(content)


def mail_text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            # SMTP carries CRLF line ends; compare texts by their lines.
            return payload.decode().replace("\r\n", "\n")
    raise AssertionError("no text/plain part")


# -- The tables every channel reads --------------------------------------------------------


def test_every_kind_has_its_own_label_event_and_summary() -> None:
    # Given every notification kind
    kinds = get_args(NotificationKind)
    assert set(FAILURE_KINDS) < set(kinds)
    # When each is named
    labels = {k: kind_label(k) for k in kinds}
    events = {k: event_name(k) for k in kinds}
    # Then no two kinds share a label or an event
    assert len(set(labels.values())) == len(set(events.values())) == len(kinds)
    assert (labels["no_data"], labels["error"], labels["recovered"]) == (
        "NO DATA",
        "ERROR",
        "RECOVERED",
    )
    assert (events["no_data"], events["error"], events["recovered"]) == (
        "alert.no_data",
        "alert.error",
        "alert.recovered",
    )


def test_summary_lines_of_failure_notices_name_the_series_and_the_reason() -> None:
    # Given failure notices about one series
    # Then no data and error show the reason (there is no value), recovered the value
    assert summary_line(notice("no_data", labels=API)) == (
        'No data: Open issues high (Open Issues{service="api"}): no value received for 10m'
    )
    assert summary_line(notice("error", labels=API)) == (
        'Error: Open issues high (Open Issues{service="api"}): '
        "execution failed: HTTP 500 from http://x/metrics"
    )
    assert summary_line(notice("recovered", labels=API)) == (
        'Recovered: Open issues high (Open Issues{service="api"} = 4)'
    )


# -- Webhook ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_webhook_failure_notice_carries_event_kind_and_reason_signed(
    sink: Sink, kind: NotificationKind
) -> None:
    # Given a signed webhook and a failure notice about one series
    note = notice(kind, labels=API)
    # When it is sent
    deliver(
        {"type": "webhook", "url": f"{sink.url}/hook", "secret": SECRET}, note, local_settings()
    )
    # Then the body names the event and the kind, carries the reason and the labels
    [req] = sink.requests
    body = req.json()
    assert (body["event"], body["kind"]) == (f"alert.{kind}", kind)
    assert body["reason"] == note.reason
    assert body["state"] == note.state
    assert body["value"] == (None if note.value is None else 4)
    assert body["labels"] == API
    # and the signature still covers the exact bytes sent
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(req.headers["X-Tocsin-Signature"], f"sha256={expected}")


# -- Slack ------------------------------------------------------------------------------

SLACK_TITLES = {
    "no_data": '\U0001f4ed No data: Open issues high{service="api"}',
    "error": '\u26a0\ufe0f Error: Open issues high{service="api"}',
    "recovered": '\U0001f7e2 Recovered: Open issues high{service="api"}',
}
SLACK_FOOTER_WORDS = {
    "no_data": "returned no data",
    "error": "could not be read",
    "recovered": "readable again",
}


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_slack_failure_notice_has_its_title_footer_and_coloured_reason(
    sink: Sink, kind: NotificationKind
) -> None:
    # Given a failure notice about one series
    note = notice(kind, labels=API)
    # When it is posted to an incoming webhook
    body = slack_body(sink, note)
    # Then its header has the kind's emoji and wording, and names the series
    assert body["blocks"][0]["text"]["text"] == SLACK_TITLES[kind]
    assert body["text"] == f"{summary_line(note)} https://tocsin.example/alerts/al-42"
    # and its one attachment holds the reason and the kind's footer, in a colour
    [attachment] = body["attachments"]
    assert attachment["color"].startswith("#") and len(attachment["color"]) == 7
    reason, footer = attachment["blocks"]
    assert reason["text"]["text"] == note.reason.replace("<", "&lt;").replace(">", "&gt;")
    assert SLACK_FOOTER_WORDS[kind] in footer["elements"][0]["text"]
    # and nothing reads as a firing
    assert "Triggered" not in json.dumps(body, ensure_ascii=False)


def test_slack_colours_tell_breach_error_no_data_and_good_news_apart(sink: Sink) -> None:
    # Given one notification of every kind
    kinds = get_args(NotificationKind)
    # When each is posted
    notes = [notice(k) if k in FAILURE_KINDS else make_notification(kind=k) for k in kinds]
    colours = {n.kind: slack_body(sink, n)["attachments"][0]["color"] for n in notes}
    # Then a breach, an error, no data and a test each have their own colour
    distinct = [colours[k] for k in ("trigger", "error", "no_data", "test", "resolve")]
    assert len(set(distinct)) == len(distinct)
    # and both kinds of good news share the green
    assert colours["recovered"] == colours["resolve"]


def test_slack_error_text_can_neither_mention_nor_break_the_message(sink: Sink) -> None:
    # Given an error whose source answered with a mention and a very long body
    note = notice("error", reason="<!channel> " + "&" * 5000)
    # When it is posted
    body = slack_body(sink, note)
    # Then the mention is escaped in the notification text and in the reason section
    assert "<!channel>" not in json.dumps(body)
    assert body["text"].startswith("Error: Open issues high (Open Issues): &lt;!channel&gt;")
    # and the reason is cut to Slack's 3,000 characters, without half an entity
    text = body["attachments"][0]["blocks"][0]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;\u2026")


# -- E-mail -----------------------------------------------------------------------------

MAIL_INTROS = {
    "no_data": "Alert 'Open issues high' has no data: no value received for 10m",
    "error": (
        "Alert 'Open issues high' cannot read its metric: "
        "execution failed: HTTP 500 from http://x/metrics"
    ),
    "recovered": "Alert 'Open issues high' recovered: its metric is readable again.",
}


@pytest.mark.parametrize("kind", FAILURE_KINDS)
def test_email_failure_notice_subject_and_intro(
    smtp_server: SmtpServer, kind: NotificationKind
) -> None:
    # Given a failure notice about one series
    note = notice(kind, labels=API)
    # When it is mailed through the SMTP server
    msg = mail(smtp_server, note)
    # Then the subject names the kind and the series, and the body opens with the intro
    assert msg["Subject"] == f'[Tocsin] {kind_label(kind)}: Open issues high{{service="api"}}'
    text = mail_text(msg)
    assert text.splitlines()[0] == MAIL_INTROS[kind]
    assert f"State: {note.state}" in text


# -- PagerDuty --------------------------------------------------------------------------


@pytest.mark.parametrize("labels", [{}, API], ids=["no series", "series"])
def test_pagerduty_failure_notices_are_the_series_source_incident(
    sink: Sink, labels: dict[str, str]
) -> None:
    # Given an action whose breaches are critical
    # When a series triggers, then errors, has no data, and recovers
    trigger, error, no_data, recovered = pagerduty_bodies(
        sink,
        make_notification(labels=labels),
        notice("error", labels=labels),
        notice("no_data", labels=labels),
        notice("recovered", labels=labels),
        severity="critical",
    )
    # Then error and no data are triggers at their own severity, not the breach's
    assert (error["event_action"], error["payload"]["severity"]) == ("trigger", "error")
    assert (no_data["event_action"], no_data["payload"]["severity"]) == ("trigger", "warning")
    assert trigger["payload"]["severity"] == "critical"
    # and recovered resolves
    assert recovered["event_action"] == "resolve" and "payload" not in recovered
    # and the three are one incident of the series' source, beside its breach's: a
    # recovered source must not resolve a firing that still holds
    assert len({b["dedup_key"] for b in (error, no_data, recovered)}) == 1
    assert error["dedup_key"] == trigger["dedup_key"].replace(
        f"tocsin-{error['payload']['custom_details']['alert_id']}",
        f"tocsin-{error['payload']['custom_details']['alert_id']}-source",
    )
    # and the summary says what broke
    assert error["payload"]["summary"] == summary_line(notice("error", labels=labels))
    assert error["payload"]["custom_details"]["kind"] == "error"


# -- Log --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "level"),
    [("no_data", logging.WARNING), ("error", logging.WARNING), ("recovered", logging.INFO)],
)
def test_log_line_names_the_kind(
    caplog: pytest.LogCaptureFixture, kind: NotificationKind, level: int
) -> None:
    # Given a failure notice
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    note = notice(kind)
    # When it goes to the log channel
    deliver({"type": "log"}, note, local_settings())
    # Then the line names the kind at a level an operator notices when data breaks
    [record] = [r for r in caplog.records if r.name == "tocsin.actions"]
    assert record.getMessage().startswith(f"alert {kind_label(kind).lower()}: ")
    assert record.levelno == level
    assert (record.__dict__["kind"], record.__dict__["reason"]) == (kind, note.reason)


# -- The reason, verbatim ---------------------------------------------------------------


def test_an_error_reason_arrives_verbatim_on_every_channel(
    sink: Sink, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an error notice whose reason is a source's raw error text
    caplog.set_level(logging.INFO, logger="tocsin.actions")
    note = notice("error", reason=ODD_REASON)
    # When it goes through every channel
    deliver(
        {"type": "webhook", "url": f"{sink.url}/hook", "secret": SECRET}, note, local_settings()
    )
    webhook = sink.requests[-1].json()
    slack = slack_body(sink, note)
    sink.requests.clear()
    [pagerduty] = pagerduty_bodies(sink, note, severity="info")
    text = mail_text(mail(smtp_server, note))
    deliver({"type": "log"}, note, local_settings())
    # Then each carries it unchanged (Slack with only its three control characters
    # escaped, as mrkdwn requires)
    assert webhook["reason"] == ODD_REASON
    assert pagerduty["payload"]["custom_details"]["reason"] == ODD_REASON
    assert pagerduty["payload"]["summary"].endswith(ODD_REASON)
    assert f"Reason: {ODD_REASON}" in text
    escaped = ODD_REASON.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert slack["attachments"][0]["blocks"][0]["text"]["text"] == escaped
    [record] = [r for r in caplog.records if r.name == "tocsin.actions"]
    assert record.__dict__["reason"] == ODD_REASON and ODD_REASON in record.getMessage()
