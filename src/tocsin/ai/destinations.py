"""Destinations as the offline parser reads them from a message: URLs, e-mail addresses,
Slack channels, "page me", "just log it"."""

from __future__ import annotations

from typing import Any

from tocsin.ai import phrases as ph
from tocsin.ai.proposals import Clarify
from tocsin.ai.worktext import Text


def take_destinations(text: Text, pagerduty_key: str | None) -> list[dict[str, Any]] | Clarify:
    actions: list[dict[str, Any]] = []
    while (url := text.take(ph.URL)) is not None:
        target = text.orig(url).rstrip(".,;:)!?")
        kind = "slack" if "hooks.slack.com" in target.lower() else "webhook"
        actions.append({"type": kind, "url": target})
    addresses = []
    while (mail := text.take(ph.EMAIL)) is not None:
        addresses.append(text.orig(mail))
    if addresses:
        actions.append({"type": "email", "to": addresses})
    channels = []
    while (chan := text.take(ph.SLACK_CHANNEL)) is not None:
        channels.append(text.orig(chan, "chan"))
    actions += [{"type": "slack", "channelId": c} for c in channels]
    key_match = text.take(ph.PD_KEY)
    wants_page = text.take(ph.PAGE) is not None or key_match is not None
    if wants_page:
        key = text.orig(key_match, "key") if key_match else pagerduty_key
        if not key:
            return Clarify(
                "To page you I need a PagerDuty routing key: set TOCSIN_PAGERDUTY_ROUTING_KEY, "
                'or say "page me with pagerduty key <routing key>".',
                "create_alert",
            )
        actions.append({"type": "pagerduty", "routing_key": key})
    if text.take(ph.LOG):
        actions.append({"type": "log"})
    if text.take(ph.SLACK_WORD) and not any(a["type"] == "slack" for a in actions):
        return Clarify(
            'Which Slack channel? e.g. "on Slack #ops", or an incoming-webhook URL.',
            "create_alert",
        )
    if text.take(ph.EMAIL_ME) and not addresses:
        return Clarify(
            'Which e-mail address? e.g. "email ops@example.com if Open Issues > 5"',
            "create_alert",
        )
    return actions
