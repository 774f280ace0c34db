"""Two orgs on one server: every route refuses the other org's objects with 404 (never
403), whether addressed by ID or by a name both orgs use."""

from __future__ import annotations

import uuid
from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient


def seed(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    metric = create_metric(client, tenant.headers)
    alert = create_alert(client, tenant.headers, metric["id"])
    report = client.post(
        f"{API}/metrics/{metric['id']}/values", json={"value": 6}, headers=tenant.headers
    ).json()
    return {"metric": metric, "alert": alert, "delivery": report["deliveries"][0]}


def snapshot(client: TestClient, tenant: Tenant, objs: dict[str, Any]) -> dict[str, Any]:
    m, a = objs["metric"]["id"], objs["alert"]["id"]
    return {
        "metric": client.get(f"{API}/metrics/{m}", headers=tenant.headers).json(),
        "alert": client.get(f"{API}/alerts/{a}", headers=tenant.headers).json(),
        "executions": client.get(f"{API}/metrics/{m}/executions", headers=tenant.headers).json(),
        "history": client.get(f"{API}/alerts/{a}/history", headers=tenant.headers).json(),
        "series": client.get(f"{API}/alerts/{a}/series", headers=tenant.headers).json(),
        "deliveries": client.get(f"{API}/deliveries", headers=tenant.headers).json(),
    }


def alert_body_for(objs: dict[str, Any]) -> dict[str, Any]:
    return {
        "metric_id": objs["metric"]["id"],
        "name": "sneaky",
        "comparison_op": "gt",
        "threshold_value": 1,
        "action_config": {"type": "log"},
    }


def routes(objs: dict[str, Any]) -> list[tuple[str, str, Any]]:
    m, a, d = objs["metric"]["id"], objs["alert"]["id"], objs["delivery"]["id"]
    return [
        ("GET", f"/metrics/{m}", None),
        ("PATCH", f"/metrics/{m}", {"description": "pwned"}),
        ("DELETE", f"/metrics/{m}", None),
        ("POST", f"/metrics/{m}/run", None),
        ("POST", f"/metrics/{m}/values", {"value": 100}),
        # Series pushes (issue 16): a labelled value and a whole list of them.
        ("POST", f"/metrics/{m}/values", {"value": 100, "labels": {"service": "x"}}),
        ("POST", f"/metrics/{m}/values", {"values": [{"labels": {"service": "x"}, "value": 1}]}),
        ("GET", f"/metrics/{m}/executions", None),
        ("GET", f"/alerts/{a}", None),
        ("PATCH", f"/alerts/{a}", {"threshold_value": 0}),
        ("PATCH", f"/alerts/{a}", {"series_filter": ["service!=x"]}),
        ("PATCH", f"/alerts/{a}", {"drop_resolve_when_muted": True}),
        ("GET", f"/alerts/{a}/series?state=triggered", None),
        ("DELETE", f"/alerts/{a}", None),
        ("GET", f"/alerts/{a}/history", None),
        ("GET", f"/alerts/{a}/series", None),
        ("POST", f"/alerts/{a}/test", None),
        ("POST", f"/alerts/{a}/mute", {"for_seconds": 60}),
        ("POST", f"/alerts/{a}/unmute", None),
        ("POST", f"/deliveries/{d}/retry", None),
        # Reads that point at the other org's objects from the query.
        ("GET", f"/alerts?metric_id={m}", None),
    ]


def test_other_orgs_objects_are_not_found(client: TestClient, acme: Tenant, globex: Tenant) -> None:
    theirs = seed(client, acme)
    mine = seed(client, globex)
    before = snapshot(client, acme, theirs)

    for method, path, body in routes(theirs):
        resp = client.request(method, API + path, json=body, headers=globex.headers)
        assert resp.status_code == 404, (method, path, resp.status_code, resp.text)
        assert str(acme.org_id) not in resp.text
    # A body field naming the other org's metric is bad input on that field, answered
    # exactly as for a metric that exists nowhere.
    resp = client.post(f"{API}/alerts", json=alert_body_for(theirs), headers=globex.headers)
    assert resp.status_code == 422 and fields_of(resp.json()) == {
        "metric_id": "no metric with this id or name in your organisation"
    }
    assert str(acme.org_id) not in resp.text

    # Guessed IDs that exist nowhere behave the same way.
    ghost = {
        "metric": {"id": str(uuid.uuid4())},
        "alert": {"id": str(uuid.uuid4())},
        "delivery": {"id": str(uuid.uuid4())},
    }
    for method, path, body in routes(ghost):
        resp = client.request(method, API + path, json=body, headers=globex.headers)
        assert resp.status_code == 404, (method, path)

    # A PATCH moving my alert onto their metric finds no such metric.
    resp = client.patch(
        f"{API}/alerts/{mine['alert']['id']}",
        json={"metric_id": theirs["metric"]["id"]},
        headers=globex.headers,
    )
    assert resp.status_code == 404

    assert snapshot(client, acme, theirs) == before


def test_shared_names_resolve_within_the_callers_org(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    theirs = seed(client, acme)
    mine = seed(client, globex)
    before = snapshot(client, acme, theirs)

    got = client.get(f"{API}/metrics/Open Issues", headers=globex.headers).json()
    assert got["id"] == mine["metric"]["id"]
    got = client.get(f"{API}/alerts/Notify if Issues > 5", headers=globex.headers).json()
    assert got["id"] == mine["alert"]["id"]
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": 1}, headers=globex.headers
    )
    assert resp.json()["execution"]["metric_id"] == mine["metric"]["id"]
    resp = client.patch(
        f"{API}/alerts/Notify if Issues > 5", json={"threshold_value": 9}, headers=globex.headers
    )
    assert resp.json()["id"] == mine["alert"]["id"]
    resp = client.post(
        f"{API}/alerts/Notify if Issues > 5/mute", json={"for_seconds": 60}, headers=globex.headers
    )
    assert resp.json()["id"] == mine["alert"]["id"]
    assert (
        client.delete(f"{API}/alerts/Notify if Issues > 5", headers=globex.headers).json()[
            "deleted"
        ]["id"]
        == mine["alert"]["id"]
    )
    assert (
        client.delete(f"{API}/metrics/Open Issues", headers=globex.headers).json()["deleted"]["id"]
        == mine["metric"]["id"]
    )

    # Lists only ever show the caller's own.
    for path in ("/metrics", "/alerts", "/deliveries"):
        items = client.get(API + path, headers=globex.headers).json()["items"]
        assert all(i.get("org_id", str(globex.org_id)) == str(globex.org_id) for i in items)
        assert theirs["metric"]["id"] not in str(items)
        assert theirs["alert"]["id"] not in str(items)
    assert snapshot(client, acme, theirs) == before


def test_another_orgs_series_id_filters_to_nothing(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    # Given both orgs' alerts with a series each
    theirs = seed(client, acme)
    mine = seed(client, globex)
    their_series = client.get(
        f"{API}/alerts/{theirs['alert']['id']}/series", headers=acme.headers
    ).json()["items"][0]["id"]
    # When one org asks its own alert's history for the other's series
    resp = client.get(
        f"{API}/alerts/{mine['alert']['id']}/history",
        params={"series": their_series},
        headers=globex.headers,
    )
    # Then nothing of the other org comes back
    assert resp.status_code == 200 and resp.json()["items"] == []
    assert str(acme.org_id) not in resp.text
