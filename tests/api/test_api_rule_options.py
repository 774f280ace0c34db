"""Issue 18's options through the API on SQLite and PostgreSQL: reminders, recovery and
durations are created, shown, patched (null clears what may be cleared) and refused when
bad with the field named, changing nothing."""

from __future__ import annotations

from api_support import API, Tenant, create_alert, create_metric, fields_of
from fastapi.testclient import TestClient


def test_rule_options_are_set_shown_patched_and_cleared(client: TestClient, acme: Tenant) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(
        client, acme.headers, "Open Issues", repeat_every_seconds=14400, recovery_op="lt",
        recovery_threshold=4, for_seconds=300, keep_firing_seconds=600,
    )  # fmt: skip
    assert (alert["repeat_every_seconds"], alert["recovery_op"], alert["recovery_threshold"]) == (
        14400,
        "lt",
        4,
    )
    assert (alert["for_seconds"], alert["keep_firing_seconds"]) == (300, 600)
    url = f"{API}/alerts/{alert['id']}"
    cleared = client.patch(
        url,
        json={"repeat_every_seconds": None, "recovery_op": None, "recovery_threshold": None},
        headers=acme.headers,
    )
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["repeat_every_seconds"], body["recovery_op"], body["recovery_threshold"]) == (
        None,
        None,
        None,
    )
    assert body["for_seconds"] == 300  # untouched


def test_bad_rule_options_name_the_field_and_change_nothing(
    client: TestClient, acme: Tenant
) -> None:
    create_metric(client, acme.headers)
    alert = create_alert(client, acme.headers, "Open Issues")
    url = f"{API}/alerts/{alert['id']}"
    for body, field in (
        ({"recovery_op": "lt"}, "recovery_threshold"),  # one without the other
        ({"recover_from": "episode"}, "recover_from"),  # a threshold alert
        ({"for_seconds": -1}, "for_seconds"),
        ({"keep_firing_seconds": None}, "keep_firing_seconds"),
        ({"repeat_every_seconds": 10**9}, "repeat_every_seconds"),
    ):
        bad = client.patch(url, json=body, headers=acme.headers)
        assert bad.status_code == 422, (body, bad.text)
        assert field in fields_of(bad.json()), (body, bad.json())
    shown = client.get(url, headers=acme.headers).json()
    assert (shown["recovery_op"], shown["recover_from"], shown["for_seconds"]) == (None, "run", 0)
