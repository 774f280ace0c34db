"""Freshness in the API: a metric's ``selector`` carries ``fresh_column`` /
``fresh_path`` and ``max_age_seconds`` through create, show and patch, refuses bad ones
naming the field, and a pushed table whose newest row is too old is no data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient

FRESH = {"column": "n", "fresh_column": "updated_at", "max_age_seconds": 3600}


def test_create_show_and_patch_carry_the_freshness(client: TestClient, acme: Tenant) -> None:
    made = create_metric(client, acme.headers, selector=FRESH)
    assert made["selector"] == FRESH | {"row": "first"}
    shown = client.get(f"{API}/metrics/{made['id']}", headers=acme.headers).json()
    assert shown["selector"] == made["selector"]
    # A patch's selector replaces the stored one, so it may move the time to a path
    moved = {"fresh_path": "$.at", "max_age_seconds": 600}
    resp = client.patch(
        f"{API}/metrics/{made['id']}", json={"selector": moved}, headers=acme.headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["selector"] == moved | {"row": "first"}


def test_bad_freshness_is_a_422_naming_the_field(client: TestClient, acme: Tenant) -> None:
    made = create_metric(client, acme.headers)
    for selector, field in (
        ({"fresh_column": "updated_at"}, "selector.max_age_seconds"),
        ({"max_age_seconds": 60}, "selector.max_age_seconds"),
        ({"fresh_column": "u", "max_age_seconds": 0}, "selector.max_age_seconds"),
        ({"fresh_column": "u", "fresh_path": "$.u", "max_age_seconds": 60}, "selector.fresh_path"),
    ):
        created = client.post(
            f"{API}/metrics",
            json={"name": "x", "source": {"type": "push"}, "selector": selector},
            headers=acme.headers,
        )
        assert created.status_code == 422 and field in fields_of(created.json()), created.text
        patched = client.patch(
            f"{API}/metrics/{made['id']}", json={"selector": selector}, headers=acme.headers
        )
        assert patched.status_code == 422 and field in fields_of(patched.json()), patched.text
    listed = client.get(f"{API}/metrics", headers=acme.headers).json()["items"]
    assert [m["selector"] for m in listed] == [None]


def test_a_stale_push_is_no_data_and_a_fresh_one_fires(client: TestClient, acme: Tenant) -> None:
    metric = create_metric(client, acme.headers, selector=FRESH)
    create_alert(client, acme.headers, metric["id"])
    now = datetime.now(UTC)

    def push(n: int, at: datetime) -> dict[str, object]:
        table = {"columns": ["n", "updated_at"], "rows": [[n, at.isoformat()]]}
        resp = client.post(
            f"{API}/metrics/{metric['id']}/values", json={"value": table}, headers=acme.headers
        )
        assert resp.status_code == 200, resp.text
        [evaluation] = resp.json()["evaluations"]
        return dict(evaluation)

    stale = push(9, now - timedelta(hours=2))
    assert stale["state_to"] == "no_data"
    assert str(stale["reason"]).startswith("data stale: newest row 2 h old, max 1 h")
    fresh = push(9, now)
    assert (fresh["state_from"], fresh["state_to"]) == ("no_data", "triggered")
