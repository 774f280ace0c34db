"""Helpers shared by the API tests (imported by module name: tests/api has no package)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"


def create_metric(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "Open Issues", "source": {"type": "push"}} | fields
    resp = client.post(f"{API}/metrics", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def create_alert(
    client: TestClient, headers: dict[str, str], metric_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "metric_id": metric_id,
        "name": "Notify if Issues > 5",
        "comparison_op": "gt",
        "threshold_value": 5,
        "action_config": {"type": "log"},
    } | fields
    resp = client.post(f"{API}/alerts", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def fields_of(resp_json: dict[str, Any]) -> dict[str, str]:
    """A 422 body as {field: message}."""
    return {e["field"]: e["message"] for e in resp_json["detail"]}
