"""Where things live on a running Tocsin: the one place links are built.

Notification payloads, the web UI's redirects and the API all take their paths from
here, so a link in a Slack message is the page the UI serves (the UI is mounted at
``UI_PREFIX``; the API at ``API_PREFIX``)."""

from __future__ import annotations

import uuid

UI_PREFIX = "/ui"
API_PREFIX = "/api/v1"


def alert_path(alert_id: uuid.UUID | str) -> str:
    """The alert's page in the web UI."""
    return f"{UI_PREFIX}/alerts/{alert_id}"


def metric_path(metric_id: uuid.UUID | str) -> str:
    return f"{UI_PREFIX}/metrics/{metric_id}"


def alert_url(public_url: str, alert_id: uuid.UUID | str) -> str:
    """The alert's page as a link in a notification (``TOCSIN_PUBLIC_URL`` + path)."""
    return public_url.rstrip("/") + alert_path(alert_id)


def alert_url_prefix(public_url: str) -> str:
    """``alert_url`` without the id: payloads of one evaluation append each alert's."""
    return alert_url(public_url, "")


def api_alert_path(alert_id: uuid.UUID | str) -> str:
    return f"{API_PREFIX}/alerts/{alert_id}"
