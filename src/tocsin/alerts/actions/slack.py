"""Slack: an incoming webhook, or a bot token posting through ``chat.postMessage``.

``{"type": "slack", "url": "https://hooks.slack.com/services/..."}`` or
``{"type": "slack", "channelId": "C0123"}`` (``channel`` is accepted too) with the bot
token from ``TOCSIN_SLACK_BOT_TOKEN``. Messages use Block Kit with a ``text`` fallback
for notifications and screen readers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    DeliveryFailed,
    Notification,
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


def message(n: Notification) -> dict[str, Any]:
    """The Block Kit message (``text`` + ``blocks``) for one notification."""
    title = {
        "trigger": f"\U0001f534 Triggered: {n.alert_name}{n.series}",
        "resolve": f"\u2705 Resolved: {n.alert_name}{n.series}",
        "test": f"\U0001f9ea Test: {n.alert_name}",
    }[n.kind]
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
    if n.reason:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(n.reason)}})
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
    footer = {
        "trigger": "Tocsin alert fired",
        "resolve": "The condition no longer holds",
        "test": "Test notification from Tocsin: no action needed",
    }[n.kind]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    text = summary_line(n) + (f" {n.link}" if n.link else "")
    return {"text": text, "blocks": blocks}


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
