"""Series in the API: labelled pushes, ``/alerts/{id}/series``, ``history?series=``."""

from __future__ import annotations

from api_support import API, Tenant, create_alert, create_metric
from fastapi.testclient import TestClient


def test_api_labelled_pushes_series_and_history_by_series(client: TestClient, acme: Tenant) -> None:
    metric = create_metric(client, acme.headers, name="Queue depth")
    alert = create_alert(client, acme.headers, metric["id"], name="Deep queue")
    values = {
        "values": [
            {"labels": {"queue": "mail"}, "value": 40},
            {"labels": {"queue": "sms"}, "value": 1},
        ]
    }
    report = client.post(f"{API}/metrics/{metric['id']}/values", json=values, headers=acme.headers)
    assert report.status_code == 200, report.text
    assert [d["labels"] for d in report.json()["deliveries"]] == [{"queue": "mail"}]

    series = client.get(f"{API}/alerts/{alert['id']}/series", headers=acme.headers).json()
    assert [(s["labels"], s["state"]) for s in series["items"]] == [
        ({"queue": "mail"}, "triggered"),
        ({"queue": "sms"}, "ok"),
    ]
    mail = series["items"][0]["id"]
    triggered = client.get(
        f"{API}/alerts/{alert['id']}/series", params={"state": "triggered"}, headers=acme.headers
    ).json()
    assert [s["id"] for s in triggered["items"]] == [mail]

    one = client.post(
        f"{API}/metrics/{metric['id']}/values",
        json={"value": 2, "labels": {"queue": "mail"}},
        headers=acme.headers,
    )
    assert one.status_code == 200, one.text
    history = client.get(
        f"{API}/alerts/{alert['id']}/history", params={"series": mail}, headers=acme.headers
    ).json()["items"]
    assert [(h["state_from"], h["state_to"]) for h in history] == [
        ("triggered", "ok"),
        ("ok", "triggered"),
    ]
    assert {h["series_id"] for h in history} == {mail}

    shown = client.get(f"{API}/alerts/{alert['id']}", headers=acme.headers).json()
    assert shown["series_count"] == 2
    assert shown["series_states"] == {"ok": 2}


def test_api_refuses_a_push_with_both_value_and_values(client: TestClient, acme: Tenant) -> None:
    metric = create_metric(client, acme.headers, name="Queue depth")
    both = {"value": 1, "values": [{"labels": {"q": "a"}, "value": 2}]}
    resp = client.post(f"{API}/metrics/{metric['id']}/values", json=both, headers=acme.headers)
    assert resp.status_code == 422
    assert "either value" in resp.text
    bad = {"values": [{"labels": {"q": "a"}, "value": "abc"}]}
    resp = client.post(f"{API}/metrics/{metric['id']}/values", json=bad, headers=acme.headers)
    assert resp.status_code == 422
    (error,) = resp.json()["detail"]
    assert error["message"].endswith('{q="a"}: value "abc" is not a number')
