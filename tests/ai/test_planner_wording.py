"""Summaries in plain words, generated names, and name matching."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.ai.names import find_in_text, resolve
from tocsin.ai.wording import default_name, summary
from tocsin.alerts.model import AlertDefinition
from tocsin.alerts.rules import rule_of

METRIC_ID = "00000000-0000-0000-0000-000000000001"


def _draft(**fields: Any) -> AlertDefinition:
    base: dict[str, Any] = {"metric_id": METRIC_ID, "name": "x", "action_config": {"type": "log"}}
    return AlertDefinition.model_validate(base | fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"comparison_op": "gt", "threshold_value": 5,
             "action_config": {"type": "slack", "channelId": "#ops"}},
            "Fires when Open Issues is above 5; Slack #ops; at most once an hour",
        ),
        (
            {"condition_type": "relative_change", "comparison_op": "lt", "threshold_value": -20,
             "action_config": {"type": "email", "to": ["a@b.com"]}, "cooldown_seconds": 0,
             "repeat_every_seconds": 0},
            "Fires when Open Issues drops by more than 20% from the previous run; email a@b.com; "
            "every time it holds (no cooldown)",
        ),
        (
            {"condition_type": "relative_change", "change_mode": "absolute", "lookback": 3,
             "comparison_op": "gte", "threshold_value": 50, "pending_evaluations": 2,
             "cooldown_seconds": 1800, "notify_on_resolve": False,
             "action_config": [{"type": "webhook", "url": "https://example.com/h"},
                               {"type": "pagerduty", "routing_key": "KEY12345"}]},
            "Fires when Open Issues rises by 50 or more from 3 runs before for 2 runs in a row; "
            "webhook to example.com, PagerDuty; at most once every 30m; "
            "no notice when it resolves",
        ),
        (
            {"comparison_op": "ne", "threshold_value": 0, "cooldown_seconds": 86400},
            "Fires when Open Issues is not 0; log only; at most once a day",
        ),
        (
            {"comparison_op": "gt", "threshold_value": 5, "cooldown_seconds": 0},
            "Fires when Open Issues is above 5; log only; no cooldown",
        ),
        (
            {"comparison_op": "gt", "threshold_value": 5, "cooldown_seconds": 600,
             "repeat_every_seconds": 14400},
            "Fires when Open Issues is above 5; log only; at most once every 10m; "
            "reminders every 4h",
        ),
    ],
)  # fmt: skip
def test_summary(fields: dict[str, Any], expected: str) -> None:
    assert summary("Open Issues", _draft(**fields)) == expected


def test_default_names() -> None:
    assert default_name("Open Issues", rule_of(_draft(comparison_op="gt", threshold_value=5))) == (
        "Open Issues > 5"
    )
    change = _draft(condition_type="relative_change", comparison_op="lt", threshold_value=-20)
    assert default_name("Signups", rule_of(change)) == "Signups change < -20%"


def test_name_matching() -> None:
    names = ["Open Issues", "Daily Signups", "Weekly Signups", "Signups"]
    assert find_in_text("if daily signups drop", names) == ["Daily Signups"]
    assert resolve("open issue", names).name == "Open Issues"
    assert resolve("Opne Issues", names).kind == "fuzzy"
    assert resolve("weekly", names).name == "Weekly Signups"
    ambiguous = resolve("signup count", ["Daily Signups", "Weekly Signups"])
    assert ambiguous.name is None
    assert resolve("revenue", names).candidates == []
