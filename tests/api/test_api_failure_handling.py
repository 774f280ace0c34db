"""When data breaks, through the API on SQLite and PostgreSQL (issue 17): the handling
fields are set, patched, shown and refused when bad; a push of no value is told once as a
no-data notice and recovers with one recovered. Given / when / then."""

from __future__ import annotations

from typing import Any

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient


def _push(client: TestClient, tenant: Tenant, value: Any) -> dict[str, Any]:
    resp = client.post(
        f"{API}/metrics/Open Issues/values", json={"value": value}, headers=tenant.headers
    )
    assert resp.status_code in (200, 201), resp.text
    data: dict[str, Any] = resp.json()
    return data


def _sent(report: dict[str, Any]) -> list[str]:
    return [d["kind"] for d in report["deliveries"]]


def test_an_unreadable_push_is_told_once_and_its_recovery(client: TestClient, acme: Tenant) -> None:
    # Given an alert with the defaults
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    assert (alert["on_no_data"], alert["on_error"], alert["failure_notice"]) == (
        "no_data",
        "error",
        True,
    )
    # When no value arrives twice, then a number
    first, second, back = (_push(client, acme, v) for v in (None, None, 2))
    # Then one no-data notice, nothing more, and one recovered
    assert (_sent(first), _sent(second), _sent(back)) == (["no_data"], [], ["recovered"])
    assert first["deliveries"][0]["status"] == "sent"
    assert first["evaluations"][0]["state_to"] == "no_data"
    assert back["evaluations"][0]["reason"].startswith("readable again after no_data: ")


def test_handling_fields_are_patched_and_bad_ones_refused_changing_nothing(
    client: TestClient, acme: Tenant
) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues", on_error="ok")
    assert alert["on_error"] == "ok"
    url = f"{API}/alerts/{alert['id']}"
    changed = client.patch(
        url, json={"on_no_data": "alerting", "failure_notice": False}, headers=acme.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["on_no_data"], changed.json()["failure_notice"]) == ("alerting", False)
    # A choice that is not one, or null, names the field and changes nothing
    for body in ({"on_error": "page"}, {"on_no_data": None}, {"failure_notice": None}):
        bad = client.patch(url, json=body, headers=acme.headers)
        assert bad.status_code == 422 and list(body) == list(fields_of(bad.json()))
    shown = client.get(url, headers=acme.headers).json()
    assert (shown["on_no_data"], shown["on_error"], shown["failure_notice"]) == (
        "alerting",
        "ok",
        False,
    )
    # And no data treated as alerting fires, with no failure notice
    report = _push(client, acme, None)
    assert _sent(report) == ["trigger"]
    assert report["evaluations"][0]["reason"].startswith("no data: treated as alerting (on_no")


def test_another_orgs_alert_cannot_be_given_handling(
    client: TestClient, acme: Tenant, globex: Tenant
) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    resp = client.patch(
        f"{API}/alerts/{alert['id']}", json={"on_error": "ok"}, headers=globex.headers
    )
    assert resp.status_code == 404
    shown = client.get(f"{API}/alerts/{alert['id']}", headers=acme.headers).json()
    assert shown["on_error"] == "error"


def _counted(client: TestClient, kind: str) -> float:
    text = client.get("/metrics").text
    line = f'tocsin_failure_notices_total{{kind="{kind}"}} '
    found = [row for row in text.splitlines() if row.startswith(line)]
    return float(found[0].removeprefix(line)) if found else 0.0


def test_metrics_count_failure_notices_once_per_notice(client: TestClient, acme: Tenant) -> None:
    # Given an alert over a metric pushed without a value, then with one
    create_metric(client, acme.headers)
    create_alert(client, acme.headers, "Open Issues")
    before = {kind: _counted(client, kind) for kind in ("no_data", "recovered")}
    for value in (None, None, 3):
        _push(client, acme, value)
    # Then /metrics counted one no-data notice and one recovery
    assert _counted(client, "no_data") == before["no_data"] + 1
    assert _counted(client, "recovered") == before["recovered"] + 1
