"""/api/v1/deliveries on SQLite and PostgreSQL: the outbox, filtered and paged; retry."""

from __future__ import annotations

import uuid
from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient
from tests.channels.channel_support import Reply, Sink


def test_list_filter_page_and_retry(client: TestClient, acme: Tenant, sink: Sink) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(
        client,
        acme.headers,
        "Open Issues",
        cooldown_seconds=0,
        action_config=[{"type": "log"}, {"type": "webhook", "url": f"{sink.url}/hook"}],
    )
    # The receiver refuses the first webhook for good (400): that delivery fails.
    sink.reply(Reply(status=400, body="no"))
    report = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": 6}, headers=acme.headers
    ).json()
    by_channel = {d["channel"]: d for d in report["deliveries"]}
    assert by_channel["log"]["status"] == "sent"
    assert by_channel["webhook"]["status"] == "failed"
    assert by_channel["webhook"]["response_status"] == 400
    client.post(f"{API}/alerts/{alert['id']}/test", headers=acme.headers)

    everything = client.get(f"{API}/deliveries", headers=acme.headers).json()
    assert len(everything["items"]) == 4 and everything["next_cursor"] is None
    assert {d["kind"] for d in everything["items"]} == {"trigger", "test"}
    failed = client.get(f"{API}/deliveries", params={"status": "failed"}, headers=acme.headers)
    assert [d["id"] for d in failed.json()["items"]] == [by_channel["webhook"]["id"]]
    mine = client.get(f"{API}/deliveries", params={"alert_id": alert["id"]}, headers=acme.headers)
    assert len(mine.json()["items"]) == 4

    ids: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{API}/deliveries", params=params, headers=acme.headers).json()
        ids += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert ids == [d["id"] for d in everything["items"]]

    resp = client.post(
        f"{API}/deliveries/{by_channel['webhook']['id']}/retry", headers=acme.headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending" and resp.json()["id"] == by_channel["webhook"]["id"]
    sent = client.post(f"{API}/deliveries/{by_channel['log']['id']}/retry", headers=acme.headers)
    assert sent.status_code == 422 and "id" in fields_of(sent.json())
    missing = client.post(f"{API}/deliveries/not-an-id/retry", headers=acme.headers)
    assert missing.status_code == 404
    bad = client.get(f"{API}/deliveries", params={"status": "lost"}, headers=acme.headers)
    assert bad.status_code == 422 and "status" in fields_of(bad.json())


def test_filtering_by_another_orgs_alert_is_not_found(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    create_metric(client, acme.headers)
    theirs = create_alert(client, acme.headers, "Open Issues", action_config={"type": "log"})
    client.post(f"{API}/metrics/Open Issues/values", json={"value": 6}, headers=acme.headers)
    owned = client.get(f"{API}/deliveries", params={"alert_id": theirs["id"]}, headers=acme.headers)
    assert owned.status_code == 200 and len(owned.json()["items"]) == 1

    peek = client.get(
        f"{API}/deliveries", params={"alert_id": theirs["id"]}, headers=globex.headers
    )
    assert peek.status_code == 404, peek.text
    # The same answer as naming their alert anywhere else.
    other_404 = client.get(f"{API}/alerts/{theirs['id']}", headers=globex.headers)
    assert other_404.status_code == 404
    assert peek.json().keys() == other_404.json().keys() == {"detail"}
    assert peek.json() == other_404.json()
    assert str(acme.org_id) not in peek.text

    ghost = client.get(
        f"{API}/deliveries", params={"alert_id": str(uuid.uuid4())}, headers=acme.headers
    )
    assert ghost.status_code == 404 and ghost.json().keys() == {"detail"}
