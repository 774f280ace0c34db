"""Secrets at rest: a copy of the database (a backup, a stolen file) holds no secret in
clear, the channels still send with the real ones, and the keys rotate."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Connection, insert, select, text, update

from tests.channels.channel_support import Reply
from tests.helpers import run_cli
from tocsin.alerts.actions.sealing import open_action
from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.outbox import Outcome
from tocsin.alerts.store import AlertStore
from tocsin.api.auth import create_api_key
from tocsin.app import create_app
from tocsin.clock import utcnow
from tocsin.credentials.store import CredentialStore
from tocsin.crypto import SecretUnreadable, generate_key, keyring_for
from tocsin.crypto.keyring import Keyring, forget_keyrings, key_file_for
from tocsin.db.database import Database
from tocsin.db.migrate import alembic_config, current_revision, head_revision
from tocsin.db.schema import alerts, credentials, metrics, notification_deliveries
from tocsin.http import HttpClient
from tocsin.metrics.sealing import open_header
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings

SETTINGS = Settings(allow_private_networks=True, http_timeout_seconds=5)

WEBHOOK_SECRET = "whsec-3f9a1c77d2e04b"
SLACK_PATH = "T000/B000/slackpathsecret42"
ROUTING_KEY = "Rk0123456789abcdefPagerDuty"
HEADER_TOKEN = "hdr-literal-token-8842"
WEBHOOK_HEADER = "hook-header-secret-5521"
SECRETS = (WEBHOOK_SECRET, SLACK_PATH, ROUTING_KEY, HEADER_TOKEN, WEBHOOK_HEADER)


def _deliver(db: Database) -> list[Outcome]:
    async def go() -> list[Outcome]:
        async with HttpClient(SETTINGS) as http:
            return await Deliverer(db, SETTINGS, http).deliver_due()

    return asyncio.run(go())


def _actions(sink_url: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "webhook",
            "url": f"{sink_url}/hook",
            "secret": WEBHOOK_SECRET,
            "headers": {"X-Api-Key": WEBHOOK_HEADER},
        },
        {"type": "slack", "url": f"https://hooks.slack.com/services/{SLACK_PATH}"},
        {"type": "pagerduty", "routing_key": ROUTING_KEY},
    ]


def _populate(db: Database, org_id: uuid.UUID, sink_url: str) -> uuid.UUID:
    """An http metric with a literal header, a push metric whose alert has a webhook
    (signed), a Slack and a PagerDuty action, fired once: a delivery snapshot each."""
    with db.begin() as conn:
        CredentialStore(conn, org_id).save("TEAM", "ops")
        store = MetricStore(conn, org_id)
        store.create(
            {
                "name": "remote",
                "source": {
                    "type": "http",
                    "url": f"{sink_url}/count",
                    "headers": {
                        "Authorization": f"Bearer {HEADER_TOKEN}",
                        "X-Team": "${cred:TEAM}",
                    },
                },
                "schedule": {"every_seconds": 3600},
            }
        )
        pushed = store.create({"name": "pushed", "source": {"type": "push"}})
        AlertStore(conn, org_id).create_alert(
            {
                "metric_id": pushed.id,
                "name": "hot",
                "comparison_op": "gt",
                "threshold_value": 5,
                "action_config": _actions(sink_url),
            }
        )
        execution = store.record_value(pushed.id, 6)
    evaluate_alerts(db, pushed.id, execution, settings=SETTINGS)
    return pushed.id


def _raw_text(db: Database) -> str:
    """What a copy of the database holds: the file bytes on SQLite (with its WAL), the
    rows' text on PostgreSQL."""
    if db.is_sqlite:
        path = Path(db.engine.url.database or "")
        blobs = [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
        return b"".join(blobs).decode("latin-1")
    with db.connect() as conn:
        rows = [
            conn.execute(text(f"SELECT {col}::text FROM {table}")).scalars().all()
            for table, col in (
                ("alerts", "action_config"),
                ("notification_deliveries", "action"),
                ("metrics", "source"),
            )
        ]
    return "\n".join(v for r in rows for v in r)


def test_a_copy_of_the_database_holds_no_secret_in_clear(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    _populate(db, org_id, sink.url)
    raw = _raw_text(db)
    assert "hooks.slack.com" in raw  # the data is there: only the secrets are not
    for secret in SECRETS:
        assert secret not in raw, f"{secret} is stored in clear"
    assert "tocsin:fernet:" in raw


def test_sealed_actions_still_sign_and_output_stays_redacted(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    sink.default = Reply(200)
    _populate(db, org_id, sink.url)
    with db.begin() as conn:
        # Only the webhook reaches a real receiver; the others are dropped here.
        conn.execute(
            update(notification_deliveries)
            .where(notification_deliveries.c.action["type"].as_string() != "webhook")
            .values(status="failed")
        )
    outcomes = _deliver(db)
    assert [o.status for o in outcomes] == ["sent"]
    (request,) = sink.requests
    expected = (
        "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["X-Tocsin-Signature"] == expected
    assert request.headers["X-Api-Key"] == WEBHOOK_HEADER

    # API, CLI: redacted as before, the URL's host shown, no ciphertext either.
    with db.begin() as conn:
        _, key = create_api_key(conn, org_id, "t")
    app = create_app(db, Settings(database_url=db.url), runner_status=lambda: {"alive": True})
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {key}"}
        shown = client.get("/api/v1/alerts/hot", headers=auth).json()
        deliveries = client.get("/api/v1/deliveries", headers=auth).text
        metric = client.get("/api/v1/metrics/remote", headers=auth).json()
    assert shown["action_config"][0]["url"] == f"{sink.url.rsplit(':', 1)[0]}:{sink.port}/***"
    assert shown["action_config"][1]["url"] == "https://hooks.slack.com/***"
    assert metric["source"]["headers"] == {
        "Authorization": "***redacted***",
        "X-Team": "${cred:TEAM}",
    }
    cli = run_cli(db.url, "alert", "show", "hot", "--json", org="acme").stdout
    for output in (str(shown), deliveries, str(metric), cli):
        assert "tocsin:fernet:" not in output
        for secret in SECRETS:
            assert secret not in output


def test_http_source_opens_its_header_at_fetch(db: Database, org_id: uuid.UUID, sink: Any) -> None:
    sink.default = Reply(200, {"count": 3})
    _populate(db, org_id, sink.url)
    result = run_cli(
        db.url,
        "metric",
        "run",
        "remote",
        "--json",
        org="acme",
        env={"TOCSIN_ALLOW_PRIVATE_NETWORKS": "true"},
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    (request,) = [r for r in sink.requests if r.path == "/count"]
    assert request.headers["Authorization"] == f"Bearer {HEADER_TOKEN}"
    assert request.headers["X-Team"] == "ops"


def test_a_secret_the_keys_cannot_open_fails_the_delivery_without_showing_it(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    _populate(db, org_id, sink.url)
    foreign = Keyring([generate_key()])
    with db.begin() as conn:
        rows = conn.execute(select(notification_deliveries.c.id, notification_deliveries.c.action))
        for row_id, action in rows.all():
            if action["type"] == "webhook":
                action = action | {"secret": foreign.seal(WEBHOOK_SECRET)}
                conn.execute(
                    update(notification_deliveries)
                    .where(notification_deliveries.c.id == row_id)
                    .values(action=action)
                )
    outcomes = {o.error or "": o for o in _deliver(db)}
    (failure,) = [o for e, o in outcomes.items() if "cannot be decrypted" in e]
    assert failure.status == "failed"
    assert WEBHOOK_SECRET not in (failure.error or "")
    assert not [r for r in sink.requests if r.path == "/hook"]


def test_pasted_ciphertext_is_sealed_like_any_input(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    """A tenant who pastes a ciphertext (say, another tenant's, from a backup) gets it
    back as the literal text it is, never the secret inside."""
    ring = keyring_for(db.url)
    stolen = ring.seal("someone-elses-token")
    sink.default = Reply(200)
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).create(
            {
                "name": "paste",
                "source": {"type": "http", "url": f"{sink.url}/p", "headers": {"X-K": stolen}},
                "schedule": {"every_seconds": 3600},
            }
        )
    opened = open_header("X-K", metric.source["headers"]["X-K"], ring)
    assert opened == stolen


# Migration -------------------------------------------------------------------


def _to_0005(db: Database) -> None:
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")


def _plain_rows(conn: Connection, org_id: uuid.UUID, sink_url: str) -> None:
    now = utcnow()
    metric_id, alert_id = uuid.uuid4(), uuid.uuid4()
    conn.execute(
        insert(metrics).values(
            id=metric_id,
            org_id=org_id,
            name="old",
            description="",
            source={"type": "http", "url": f"{sink_url}/c", "headers": {"X-K": HEADER_TOKEN}},
            schedule={"every_seconds": 3600},
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    )
    actions = _actions(sink_url)
    conn.execute(
        insert(alerts).values(
            id=alert_id,
            org_id=org_id,
            metric_id=metric_id,
            name="old",
            description="",
            condition_type="threshold",
            comparison_op="gt",
            threshold_value=5,
            change_mode="percent",
            lookback=1,
            action_config=actions,
            enabled=True,
            cooldown_seconds=0,
            pending_evaluations=1,
            notify_on_resolve=True,
            state="triggered",
            consecutive_breaches=1,
            episode_notified=True,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        insert(notification_deliveries).values(
            id=uuid.uuid4(),
            org_id=org_id,
            alert_id=alert_id,
            kind="test",
            action=actions[0],
            payload={
                "org_id": str(org_id),
                "alert_id": str(alert_id),
                "alert_name": "old",
                "metric_id": str(metric_id),
                "metric_name": "old",
                "value": "6",
                "baseline_value": None,
                "condition": "> 5",
                "state": "triggered",
                "reason": "6 > 5",
                "evaluated_at": now.isoformat(),
                "link": None,
            },
            status="pending",
            attempts=0,
            next_attempt_at=now,
            idempotency_key="old-0",
            created_at=now,
        )
    )


def test_upgrade_from_0005_seals_plain_secrets_and_they_still_deliver(
    db: Database, org_id: uuid.UUID, sink: Any
) -> None:
    sink.default = Reply(200)
    _to_0005(db)
    with db.begin() as conn:
        _plain_rows(conn, org_id, sink.url)
    if not db.is_sqlite:
        assert WEBHOOK_SECRET in _raw_text(db)  # the test's premise: stored in clear
    result = run_cli(db.url, "db", "upgrade", "--json")
    assert result.exit_code == 0, result.stderr
    assert current_revision(db.engine) == head_revision()
    raw = _raw_text(db)
    for secret in SECRETS:
        assert secret not in raw, f"{secret} left in clear by the migration"
    outcomes = _deliver(db)
    assert [o.status for o in outcomes] == ["sent"], [o.error for o in outcomes]
    (request,) = sink.requests
    expected = (
        "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    )
    assert request.headers["X-Tocsin-Signature"] == expected


def test_offline_sql_for_supabase_says_upgrade_seals() -> None:
    from tocsin.db.supabase import render_files

    sql = render_files()["20261201200000_encrypt_secrets.sql"]
    assert "encrypted by `tocsin db upgrade`" in sql
    assert "UPDATE alerts" not in sql and "UPDATE metrics" not in sql


# Rotation ----------------------------------------------------------------------


def _sealed_values(db: Database) -> list[str]:
    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, str) and obj.startswith("tocsin:fernet:"):
            found.append(obj)
        elif isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    with db.connect() as conn:
        for column in (alerts.c.action_config, notification_deliveries.c.action, metrics.c.source):
            for value in conn.execute(select(column)).scalars():
                walk(value)
        found += conn.execute(select(credentials.c.value_ciphertext)).scalars().all()
    return found


def _add_credential(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        CredentialStore(conn, org_id).save("dsn", "postgresql://u:pw@h/db")


def _assert_rotated(values: list[str], new: Keyring, old: Keyring) -> None:
    assert len(values) >= 8
    for value in values:
        new.open(value)
        with pytest.raises(SecretUnreadable):
            old.open(value)


def test_rotate_key_with_the_variable(
    db: Database, org_id: uuid.UUID, sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key = os.environ["TOCSIN_ENCRYPTION_KEY"]
    _populate(db, org_id, sink.url)
    _add_credential(db, org_id)
    new_key = run_cli(db.url, "db", "generate-key").stdout.strip()
    assert Keyring([new_key]).size == 1
    monkeypatch.setenv("TOCSIN_ENCRYPTION_KEY", f"{new_key},{old_key}")
    result = run_cli(db.url, "db", "rotate-key", "--json")
    assert result.exit_code == 0, result.stderr
    values = _sealed_values(db)
    assert result.json()["reencrypted"] == len(values)
    _assert_rotated(values, Keyring([new_key]), Keyring([old_key]))
    # The old key dropped: deliveries still sign.
    monkeypatch.setenv("TOCSIN_ENCRYPTION_KEY", new_key)
    with db.connect() as conn:
        (action,) = [a for a in AlertStore(conn, org_id).get_alert("hot").actions][:1]
    assert open_action(action, keyring_for(db.url))["secret"] == WEBHOOK_SECRET


def test_rotate_key_with_the_key_file(
    tmp_path: Path, sink: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOCSIN_ENCRYPTION_KEY")
    forget_keyrings()
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    db = Database(url)
    db.ensure_schema()
    try:
        with db.begin() as conn:
            org_id = get_or_create_org(conn, "acme")
        _populate(db, org_id, sink.url)
        _add_credential(db, org_id)
        key_file = key_file_for(url)
        assert key_file is not None
        (old_key,) = key_file.read_text().strip().split(",")
        result = run_cli(url, "db", "rotate-key")
        assert result.exit_code == 0, result.stderr
        assert "re-encrypted" in result.stdout
        keys = key_file.read_text().strip().split(",")
        assert len(keys) == 1 and keys != [old_key]
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        _assert_rotated(_sealed_values(db), Keyring(keys), Keyring([old_key]))
        # The running process picks the new file up: deliveries still sign.
        sink.default = Reply(200)
        with db.begin() as conn:
            conn.execute(
                update(notification_deliveries)
                .where(notification_deliveries.c.action["type"].as_string() != "webhook")
                .values(status="failed")
            )
        assert [o.status for o in _deliver(db)] == ["sent"]
    finally:
        db.dispose()
        forget_keyrings()


# The embedded default ------------------------------------------------------------


def test_embedded_sqlite_generates_a_private_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOCSIN_ENCRYPTION_KEY")
    forget_keyrings()
    url = f"sqlite:///{tmp_path / 'first.db'}"
    try:
        result = run_cli(
            url, "alert", "create", "--metric", "m", "--name", "a", "--when", "> 5"
        )  # fails (no metric), but the database and its key exist now
        key_file = tmp_path / "first.db.key"
        assert key_file.exists(), result.stderr
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        Keyring([key_file.read_text().strip()])
    finally:
        forget_keyrings()


def test_postgresql_without_the_key_refuses(fresh_pg: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOCSIN_ENCRYPTION_KEY")
    forget_keyrings()
    try:
        result = run_cli(fresh_pg, "db", "upgrade")
        assert result.exit_code == 2
        assert "TOCSIN_ENCRYPTION_KEY is required on PostgreSQL" in result.stderr
        assert "tocsin db generate-key" in result.stderr
    finally:
        forget_keyrings()
