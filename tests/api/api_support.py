"""Helpers shared by the API tests (imported by module name: tests/api has no package)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tocsin.api.auth import create_api_key
from tocsin.db.database import Database
from tocsin.orgs import get_or_create_org

API = "/api/v1"


@dataclass(frozen=True)
class Tenant:
    org_id: uuid.UUID
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_tenant(db: Database, org: str, role: str = "editor") -> Tenant:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, org)
        _, key = create_api_key(conn, org_id, f"{org} {role} tests", role)
    return Tenant(org_id, key)


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
