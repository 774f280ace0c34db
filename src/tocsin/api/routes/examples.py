"""Example answers of the REST API, shown in ``/openapi.json`` and kept true by
tests/api/test_api_docs.py, which compares them with real answers."""

from __future__ import annotations

from typing import Any

from tocsin.api.schemas import (
    ALERT_ID,
    DELIVERY_ID,
    EXECUTION_ID,
    HISTORY_ID,
    METRIC_ID,
    ORG_ID,
    SERIES_ID,
    SHOWN_WEBHOOK_ACTION,
    T0,
)

METRIC_EXAMPLE: dict[str, Any] = {
    "id": METRIC_ID,
    "org_id": ORG_ID,
    "name": "Open Issues",
    "description": "",
    "source": {"type": "push", "timeout_seconds": 30},
    "selector": None,
    "schedule": None,
    "enabled": True,
    "next_run_at": None,
    "created_at": T0,
    "updated_at": T0,
    "expect_every_seconds": None,
}

EXECUTION_EXAMPLE: dict[str, Any] = {
    "id": EXECUTION_ID,
    "metric_id": METRIC_ID,
    "status": "completed",
    "trigger": "push",
    "scheduled_for": None,
    "started_at": T0,
    "completed_at": T0,
    "result": 6,
    "value": 6,
    "error": None,
}

# A new alert's settings for broken data, reminders, recovery and durations (every
# example alert shows them as made).
RULE_DEFAULTS: dict[str, Any] = {
    "on_no_data": "no_data",
    "on_error": "error",
    "failure_notice": True,
    "repeat_every_seconds": None,
    "recovery_op": None,
    "recovery_threshold": None,
    "recover_from": "run",
    "for_seconds": 0,
    "keep_firing_seconds": 0,
}

ALERT_EXAMPLE: dict[str, Any] = {
    "id": ALERT_ID,
    "org_id": ORG_ID,
    "metric_id": METRIC_ID,
    "name": "Notify if Issues > 5",
    "description": "",
    "condition_type": "threshold",
    "comparison_op": "gt",
    "threshold_value": 5,
    "change_mode": "percent",
    "lookback": 1,
    "action_config": SHOWN_WEBHOOK_ACTION,
    "enabled": True,
    "cooldown_seconds": 3600,
    "pending_evaluations": 1,
    "notify_on_resolve": True,
    "drop_resolve_when_muted": False,
    **RULE_DEFAULTS,
    "muted_until": None,
    "state": "triggered",
    "last_triggered_at": T0,
    "last_evaluated_at": T0,
    "last_value": 6,
    "created_at": T0,
    "updated_at": T0,
    "series_by": [],
    "series_filter": [],
    "resolve_missing_after": 2,
    "series_count": 0,
    "series_states": {},
}

HISTORY_EXAMPLE: dict[str, Any] = {
    "id": HISTORY_ID,
    "alert_id": ALERT_ID,
    "execution_id": EXECUTION_ID,
    "evaluated_at": T0,
    "value": 6,
    "baseline_value": None,
    "triggered": True,
    "state_from": "ok",
    "state_to": "triggered",
    "notified": True,
    "reason": "6 > 5; triggered",
    "series_id": SERIES_ID,
    "labels": {},
}

DELIVERY_EXAMPLE: dict[str, Any] = {
    "id": DELIVERY_ID,
    "alert_id": ALERT_ID,
    "history_id": HISTORY_ID,
    "kind": "trigger",
    "action": SHOWN_WEBHOOK_ACTION,
    "status": "sent",
    "attempts": 1,
    "next_attempt_at": T0,
    "last_error": None,
    "response_status": 200,
    "duration_ms": 42,
    "idempotency_key": f"{HISTORY_ID}-0",
    "created_at": T0,
    "sent_at": T0,
    "channel": "webhook",
    "series_id": SERIES_ID,
    "labels": {},
}

MUTED_ALERT_EXAMPLE: dict[str, Any] = ALERT_EXAMPLE | {"muted_until": "2026-01-05T10:30:00Z"}

RETRIED_DELIVERY_EXAMPLE: dict[str, Any] = DELIVERY_EXAMPLE | {
    "kind": "test",
    "history_id": None,
    "status": "pending",
    "last_error": "HTTP 500 from https://hooks.example.com: try later (retry 2/2 in 4s)",
    "response_status": 500,
    "sent_at": None,
    "idempotency_key": f"{DELIVERY_ID}-0",
    "series_id": None,
    "labels": None,
}

SERIES_EXAMPLE: dict[str, Any] = {
    "id": SERIES_ID,
    "alert_id": ALERT_ID,
    "labels": {},
    "state": "triggered",
    "consecutive_breaches": 1,
    "last_triggered_at": T0,
    "last_evaluated_at": T0,
    "last_value": 6,
    "last_seen_at": T0,
}

CURSOR_EXAMPLE = "WyIyMDI2LTAxLTA1VDA5OjMwOjAwKzAwOjAwIiwgIjFhMmIzYzRkIl0"

CREDENTIAL_EXAMPLE: dict[str, Any] = {"name": "SHOP_DB", "created_at": T0, "updated_at": T0}

CHAT_EXAMPLE: dict[str, Any] = {
    "intent": "create_alert",
    "engine": "offline",
    "draft": {
        "name": "Open Issues > 5",
        "description": "",
        "condition_type": "threshold",
        "comparison_op": "gt",
        "threshold_value": 5,
        "change_mode": "percent",
        "lookback": 1,
        "action_config": {"type": "log"},
        "series_filter": [],
        "resolve_missing_after": 2,
        "drop_resolve_when_muted": False,
        **RULE_DEFAULTS,
        "enabled": True,
        "cooldown_seconds": 3600,
        "pending_evaluations": 1,
        "notify_on_resolve": True,
        "muted_until": None,
        "metric_id": METRIC_ID,
    },
    "metric": {"id": METRIC_ID, "name": "Open Issues"},
    "summary": "Fires when Open Issues is above 5; log only; at most once an hour",
    "dry_run": {
        "execution_id": EXECUTION_ID,
        "completed_at": T0,
        "value": 6,
        "baseline_value": None,
        "condition_met": True,
        "would_fire": True,
        "reason": "6 > 5; triggered",
        "text": "now 6: it would fire now",
    },
    "backtest": {
        "runs": 1,
        "fired": 1,
        "condition_met": 1,
        "last_fired_at": T0,
        "text": "would have fired once in the last run, last on 2026-01-05 09:30 UTC",
    },
    "question": None,
    "candidates": [],
    "alerts": None,
    "metrics": None,
    "explanation": None,
    "mute": None,
    "notes": [],
    "unparsed": [],
    "dry_run_only": False,
    "saved": None,
    "muted": None,
    "confirm_needed": True,
}

PROMETHEUS_EXAMPLE = "\n".join(
    [
        "# HELP tocsin_alert_evaluations_total Alert evaluations recorded, by the state the "
        "alert moved to.",
        "# TYPE tocsin_alert_evaluations_total counter",
        'tocsin_alert_evaluations_total{state="triggered"} 2.0',
        "# HELP tocsin_alert_firings_total Evaluations where a trigger notification was due, "
        "by whether it was sent.",
        "# TYPE tocsin_alert_firings_total counter",
        'tocsin_alert_firings_total{notified="true"} 2.0',
        "",
    ]
)
