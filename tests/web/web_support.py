"""Helpers for the web UI tests (imported by module name: tests/web has no package)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/ui/") -> str:
    """The session's CSRF token, as a page hands it to its forms."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text) or re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def post_form(client: TestClient, path: str, data: dict[str, Any], **kw: Any) -> Any:
    token = csrf_of(client)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False, **kw)


def metric_form(name: str = "Open Issues", **fields: str) -> dict[str, str]:
    return {"name": name, "source": "push", "description": ""} | fields


def alert_form(metric_id: str, name: str = "Notify if Issues > 5", **fields: Any) -> dict[str, Any]:
    return {
        "metric_id": metric_id,
        "name": name,
        "condition_type": "threshold",
        "comparison_op": "gt",
        "threshold_value": "5",
        "change_mode": "percent",
        "lookback": "1",
        "pending_evaluations": "1",
        "cooldown_seconds": "1h",
        "notify_on_resolve": "on",
        # Checked on a new alert's form, as a browser then posts it.
        "failure_notice": "on",
        "enabled": "on",
        "action_type": ["log", ""],
        "action_target": ["", ""],
        "action_secret": ["", ""],
    } | fields
