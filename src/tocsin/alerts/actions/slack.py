"""Slack: an incoming webhook, or a bot token posting through ``chat.postMessage``.

``{"type": "slack", "url": "https://hooks.slack.com/services/..."}`` or
``{"type": "slack", "channelId": "C0123"}`` (``channel`` is accepted too) with the bot
token from ``TOCSIN_SLACK_BOT_TOKEN``. Messages use Block Kit with a ``text`` fallback
for notifications and screen readers: the header, the fields and the button are message
blocks, and the reason and footer sit in one attachment, because Slack colours only
attachments and the colour bar is how a channel full of notices is scanned by kind.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    DeliveryFailed,
    Notification,
    NotificationKind,
    SendResult,
    check_http_url,
    format_value,
    summary_line,
)
from tocsin.http import HttpError, HttpResponse, is_transient_status, parse_retry_after

# chat.postMessage reports these as ``ok: false`` although a retry can succeed.
_TRANSIENT_API_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
_HINTS = {
    "invalid_auth": "check TOCSIN_SLACK_BOT_TOKEN",
    "not_authed": "check TOCSIN_SLACK_BOT_TOKEN",
    "token_revoked": "TOCSIN_SLACK_BOT_TOKEN was revoked",
    "account_inactive": "TOCSIN_SLACK_BOT_TOKEN belongs to a deactivated app or user",
    "channel_not_found": "check the channelId, and that the bot can see the channel",
    "not_in_channel": "invite the bot to the channel (/invite @your-bot)",
    "is_archived": "the channel is archived",
    "missing_scope": "the bot token needs the chat:write scope",
    "invalid_payload": "Slack rejected the message format",
    "no_service": "the incoming webhook was removed or disabled",
    "no_team": "the Slack workspace of the webhook no longer exists",
    "team_disabled": "the Slack workspace of the webhook is disabled",
    "invalid_token": "the incoming webhook URL is no longer valid",
    "action_prohibited": "a workspace admin restricted this webhook",
    "channel_is_archived": "the channel is archived",
}
_HEADER_MAX = 150
# A section's text may hold at most 3,000 characters; a longer one fails the whole
# message with invalid_blocks, and an error notice's reason is a source's error text
# of any length.
_SECTION_MAX = 3000

# Per kind: the header (emoji and wording), the footer and the attachment's colour.
# Titles are templates filled with the alert's name and series.
_TITLES: dict[NotificationKind, str] = {
    "trigger": "\U0001f534 Triggered: {name}{series}",
    "resolve": "\u2705 Resolved: {name}{series}",
    "test": "\U0001f9ea Test: {name}",
    "no_data": "\U0001f4ed No data: {name}{series}",
    "error": "\u26a0\ufe0f Error: {name}{series}",
    "recovered": "\U0001f7e2 Recovered: {name}{series}",
}
_FOOTERS: dict[NotificationKind, str] = {
    "trigger": "Tocsin alert fired",
    "resolve": "The condition no longer holds",
    "test": "Test notification from Tocsin: no action needed",
    "no_data": "The metric returned no data, so Tocsin cannot tell whether the condition holds",
    "error": "The metric could not be read, so Tocsin cannot tell whether the condition holds",
    "recovered": "The metric is readable again; the alert is evaluated as usual",
}
# Red for a breach; an error is orange, distinct from it (the source broke, not the
# metric); no data is amber; both good news are green; a test is blue.
_COLORS: dict[NotificationKind, str] = {
    "trigger": "#e01e5a",
    "resolve": "#2eb67d",
    "test": "#1d9bd1",
    "no_data": "#ecb22e",
    "error": "#f2711c",
    "recovered": "#2eb67d",
}


class SlackConfig(ActionModel):
    type: Literal["slack"] = "slack"
    url: str | None = None
    channel_id: str | None = Field(
        default=None,
        validation_alias=AliasChoices("channelId", "channel", "channel_id"),
        serialization_alias="channelId",
        min_length=1,
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @model_validator(mode="after")
    def _one_target(self) -> SlackConfig:
        if (self.url is None) == (self.channel_id is None):
            raise ValueError(
                'expected exactly one of "url" (incoming webhook) or "channelId" '
                "(bot token channel)"
            )
        return self


def _escape(text: str) -> str:
    # Slack mrkdwn treats &, < and > as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section_text(text: str) -> str:
    escaped = _escape(text)
    if len(escaped) <= _SECTION_MAX:
        return escaped
    # Cut inside the limit, without leaving half an entity such as "&am" behind.
    cut = re.sub(r"&[a-z]*$", "", escaped[: _SECTION_MAX - 1])
    return cut + "\u2026"


def message(n: Notification) -> dict[str, Any]:
    """The message for one notification: ``text``, ``blocks`` and one coloured
    ``attachments`` entry holding the reason and the footer."""
    title = _TITLES[n.kind].format(name=n.alert_name, series=n.series)
    epoch = int(n.evaluated_at.timestamp())
    when = f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{n.evaluated_at.isoformat()}>"
    fields = [
        ("Metric", _escape(n.metric_name)),
        ("Value", format_value(n.value)),
        ("Condition", _escape(n.condition)),
        ("State", n.state),
        ("Time", when),
    ]
    if n.baseline_value is not None:
        fields.insert(2, ("Baseline", format_value(n.baseline_value)))
    if n.labels:
        fields.insert(1, ("Series", _escape(n.series)))
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": title[:_HEADER_MAX], "emoji": True},
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields],
        },
    ]
    # The button stays a message block: Slack may fold a long attachment behind
    # "Show more", and the way to the alert should never be hidden.
    if n.link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "View alert"},
                        "url": n.link,
                    }
                ],
            }
        )
    coloured: list[dict[str, Any]] = []
    if n.reason:
        coloured.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _section_text(n.reason)}}
        )
    coloured.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _FOOTERS[n.kind]}]})
    # The summary can carry a source's error text: escaped, so that text can neither
    # mention (<!channel>) nor link in the notification Slack shows.
    summary = _escape(summary_line(n))
    text = summary + (f" {n.link}" if n.link else "")
    return {
        "text": text,
        "blocks": blocks,
        "attachments": [{"color": _COLORS[n.kind], "fallback": summary, "blocks": coloured}],
    }


def _failure(error: str, *, status: int | None, retry_after: float | None) -> DeliveryFailed:
    hint = _HINTS.get(error)
    text = f"Slack error {error}" + (f": {hint}" if hint else "")
    transient = error in _TRANSIENT_API_ERRORS or (
        status is not None and is_transient_status(status)
    )
    return DeliveryFailed(text, transient=transient, status=status, retry_after=retry_after)


def _webhook_error(resp: HttpResponse) -> HttpError:
    # Incoming webhooks answer errors as short plain-text codes such as invalid_payload.
    code = resp.text.strip()[:100]
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    if not code or " " in code or "<" in code:
        code = f"HTTP {resp.status}"
    return _failure(code, status=resp.status, retry_after=retry_after)


class SlackChannel(Channel[SlackConfig]):
    type = "slack"
    Config = SlackConfig
    # The incoming-webhook path is the credential.
    secret_fields = {"url": "url"}

    async def send(self, notification: Notification) -> SendResult:
        body = message(notification)
        if self.config.url is not None:
            resp = await self.http.request("POST", self.config.url, json=body)
            if not resp.ok:
                raise _webhook_error(resp)
            return SendResult(status_code=resp.status, detail="posted to Slack webhook")
        return await self._post_message(body)

    async def _post_message(self, body: dict[str, Any]) -> SendResult:
        token = self.settings.slack_bot_token
        if token is None or not token.get_secret_value():
            raise DeliveryFailed(
                "Slack channel actions need a bot token: set TOCSIN_SLACK_BOT_TOKEN",
                transient=False,
            )
        resp = await self.http.request(
            "POST",
            f"{self.settings.slack_api_url}/chat.postMessage",
            json={"channel": self.config.channel_id, **body},
            headers={
                "Authorization": f"Bearer {token.get_secret_value()}",
                "Content-Type": "application/json; charset=utf-8",
            },
        )
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            if resp.ok:
                raise DeliveryFailed(
                    f"Slack answered HTTP {resp.status} without a JSON body",
                    transient=True,
                    status=resp.status,
                )
            raise _failure(f"HTTP {resp.status}", status=resp.status, retry_after=retry_after)
        if answer.get("ok") is True:
            return SendResult(
                status_code=resp.status,
                detail=f"posted to {self.config.channel_id} (ts {answer.get('ts', '?')})",
            )
        error = str(answer.get("error") or f"HTTP {resp.status}")[:100]
        raise _failure(error, status=resp.status, retry_after=retry_after)
