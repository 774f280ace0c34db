"""/api/v1/chat: the route's contract with the planner (``tocsin.ai.service.chat``)."""

from __future__ import annotations

import sys
import types
import uuid
from typing import Any

import pytest
from api_support import API, Tenant, create_metric
from fastapi.testclient import TestClient

from tocsin.db.database import Database


def test_chat_without_planner_is_503(
    client: TestClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tocsin.ai.service", None)  # import fails
    resp = client.post(f"{API}/chat", json={"message": "hi"}, headers=acme.headers)
    assert resp.status_code == 503 and "not available" in resp.json()["detail"]


def test_chat_passes_the_callers_org_and_flags(
    client: TestClient, acme: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    def chat(
        db: Database, org_id: uuid.UUID, message: str, *, confirm: bool, dry_run: bool
    ) -> dict[str, Any]:
        calls.append((org_id, message, confirm, dry_run))
        return {"reply": "planned", "created": None}

    fake = types.ModuleType("tocsin.ai.service")
    fake.chat = chat  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tocsin.ai.service", fake)
    body = {"message": "Notify me if Issues > 5", "confirm": True}
    resp = client.post(f"{API}/chat", json=body, headers=acme.headers)
    assert resp.status_code == 200 and resp.json() == {"reply": "planned", "created": None}
    assert calls == [(acme.org_id, "Notify me if Issues > 5", True, False)]
    resp = client.post(f"{API}/chat", json={"message": ""}, headers=acme.headers)
    assert resp.status_code == 422
    resp = client.post(f"{API}/chat", json={"message": "x", "yes": True}, headers=acme.headers)
    assert resp.status_code == 422


def test_chat_with_the_real_planner(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers, name="Open Issues")
    resp = client.post(
        f"{API}/chat",
        json={"message": "Notify me if Open Issues > 5", "dry_run": True},
        headers=acme.headers,
    )
    assert resp.status_code == 200, resp.text
    plan = resp.json()
    assert plan["intent"] == "create_alert" and plan["saved"] is None
    assert (plan["draft"]["comparison_op"], plan["draft"]["threshold_value"]) == ("gt", 5)
    # Confirmed: the alert exists.
    resp = client.post(
        f"{API}/chat",
        json={"message": "Notify me if Open Issues > 5", "confirm": True},
        headers=acme.headers,
    )
    assert resp.status_code == 200 and resp.json()["saved"]["comparison_op"] == "gt"
    listed = client.get(f"{API}/alerts", headers=acme.headers).json()["items"]
    assert [a["name"] for a in listed] == [resp.json()["saved"]["name"]]
