"""/healthz and /metrics (Prometheus), and the telemetry recording functions."""

from __future__ import annotations

from api_support import API, Tenant, create_alert, create_metric
from fastapi.testclient import TestClient
from tests.channels.channel_support import Reply, Sink

from tocsin import telemetry
from tocsin.app import create_app
from tocsin.db.database import Database
from tocsin.settings import Settings


def test_healthz_reports_database_runner_and_pending(
    client: TestClient, acme: Tenant, sink: Sink
) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok",
        "database": {"ok": True, "error": None},
        "runner": {"alive": True},
        "deliveries": {"pending": 0, "oldest_pending_age_seconds": None},
    }
    # A receiver that answers 503 leaves the delivery pending, to be retried.
    create_metric(client, acme.headers)
    create_alert(
        client, acme.headers, "Open Issues", action_config={"type": "webhook", "url": sink.url}
    )
    sink.reply(Reply(status=503))
    client.post(f"{API}/metrics/Open Issues/values", json={"value": 6}, headers=acme.headers)
    body = client.get("/healthz").json()
    assert body["deliveries"]["pending"] == 1
    assert 0 <= body["deliveries"]["oldest_pending_age_seconds"] < 60


def test_healthz_without_database_is_503(api_settings: Settings) -> None:
    down = Database("postgresql://nobody@127.0.0.1:1/none")

    def broken() -> dict[str, object]:
        raise RuntimeError("probe failed")

    with TestClient(create_app(down, api_settings, runner_status=broken)) as client:
        resp = client.get("/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "down" and body["database"]["ok"] is False
    assert body["runner"]["alive"] is False and "nobody" not in resp.text


def test_healthz_runner_states(db: Database, api_settings: Settings) -> None:
    with TestClient(create_app(db, api_settings)) as client:
        body = client.get("/healthz").json()
    assert body["runner"]["alive"] is None and body["status"] == "ok"
    with TestClient(create_app(db, api_settings, runner_status=lambda: {"alive": False})) as c:
        resp = c.get("/healthz")
    assert resp.status_code == 200 and resp.json()["status"] == "degraded"


def sample(name: str, **labels: str) -> float:
    return telemetry.REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_endpoint_and_recorders(client: TestClient) -> None:
    before = {
        "eval": sample("tocsin_alert_evaluations_total", state="triggered"),
        "fired": sample("tocsin_alert_firings_total", notified="false"),
        "muted": sample("tocsin_alert_suppressions_total", reason="muted"),
        "cool": sample("tocsin_alert_suppressions_total", reason="cooldown"),
        "slack": sample("tocsin_deliveries_total", channel="slack", status="sent"),
        "late": sample("tocsin_scheduler_lateness_seconds_count"),
        "exec": sample("tocsin_metric_executions_total", status="timed_out"),
    }
    telemetry.record_evaluation("triggered", False, "muted until 14:00 UTC")
    telemetry.record_evaluation("triggered", True, None)
    telemetry.record_evaluation("ok", False, "cooldown: next notification in 57 min (cooldown 1h)")
    telemetry.record_delivery("slack", "sent", 0.2)
    telemetry.record_delivery("carrier-pigeon", "weird", 1.0)
    telemetry.record_scheduler_lateness(0.5)
    telemetry.record_execution("timed_out", 30.0)
    assert sample("tocsin_alert_evaluations_total", state="triggered") == before["eval"] + 2
    assert sample("tocsin_alert_firings_total", notified="false") == before["fired"] + 1
    assert sample("tocsin_alert_suppressions_total", reason="muted") == before["muted"] + 1
    assert sample("tocsin_alert_suppressions_total", reason="cooldown") == before["cool"] + 1
    assert sample("tocsin_deliveries_total", channel="slack", status="sent") == before["slack"] + 1
    assert sample("tocsin_deliveries_total", channel="other", status="other") >= 1
    assert sample("tocsin_scheduler_lateness_seconds_count") == before["late"] + 1
    assert sample("tocsin_metric_executions_total", status="timed_out") == before["exec"] + 1

    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    for name in (
        "tocsin_alert_evaluations_total",
        "tocsin_alert_firings_total",
        "tocsin_alert_suppressions_total",
        "tocsin_deliveries_total",
        "tocsin_delivery_seconds_bucket",
        "tocsin_scheduler_lateness_seconds_bucket",
        "tocsin_metric_execution_seconds_bucket",
    ):
        assert name in resp.text
