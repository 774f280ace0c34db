"""The real planner (``plan``, offline engine) against the phrasing corpus (phrasings.json).

Every case is planned in an org holding the corpus's metrics and alerts, on SQLite and on
PostgreSQL, and its outcome is checked: the exact alert drafted (metric, condition,
destinations, cooldown, pending runs), the mute or lookup proposed, or a question ("asks").
An alert where the corpus expects a question, or a different alert, is *wrong*; the
scoreboard test counts right / asked / wrong over the corpus and wrong must be 0.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tests.conftest import _truncate_pg

from tocsin.ai.planner import Plan, plan
from tocsin.ai.settings import PlannerSettings
from tocsin.alerts.model import AlertDefinition
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.errors import InvalidInput
from tocsin.metrics.store import MetricStore
from tocsin.orgs import get_or_create_org

CORPUS = json.loads((Path(__file__).parent / "phrasings.json").read_text())
CASES: list[dict[str, Any]] = CORPUS["cases"]
SAID = [c for c in CASES if c["message"].strip()]
# The fields an alert outcome is compared on; absent from a case means the default.
DEFAULTS: dict[str, Any] = {
    "condition_type": "threshold",
    "action_config": [{"type": "log"}],
    "cooldown_seconds": 3600,
    "pending_evaluations": 1,
    "notify_on_resolve": True,
    "series_filter": [],
    "on_no_data": "no_data",
    "on_error": "error",
    "failure_notice": True,
    "drop_resolve_when_muted": False,
    "repeat_every_seconds": None,
    "for_seconds": 0,
    "keep_firing_seconds": 0,
    "recovery_op": None,
    "recovery_threshold": None,
    "recover_from": "run",
}
RELATIVE_DEFAULTS = {"change_mode": "percent", "lookback": 1}


def _seed(db: Database) -> uuid.UUID:
    with db.begin() as conn:
        org_id = get_or_create_org(conn, "corpus")
        metrics = MetricStore(conn, org_id)
        ids = {}
        for entry in CORPUS["metrics"]:
            # A name, or {name, series_by} for a metric with series.
            found = entry if isinstance(entry, dict) else {"name": entry}
            selector = {"series_by": found["series_by"]} if "series_by" in found else None
            created = metrics.create(
                {"name": found["name"], "source": {"type": "push"}, "selector": selector}
            )
            ids[created.name] = created.id
        alerts = AlertStore(conn, org_id)
        for alert in CORPUS["alerts"]:
            fields = {k: v for k, v in alert.items() if k != "metric"}
            alerts.create_alert(
                AlertDefinition.model_validate(
                    fields | {"metric_id": ids[alert["metric"]], "action_config": {"type": "log"}}
                )
            )
    return org_id


def _settings(case: dict[str, Any]) -> PlannerSettings:
    key = case.get("pagerduty_key", CORPUS["pagerduty_key"])
    return PlannerSettings(pagerduty_routing_key=SecretStr(key) if key else None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def plans(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Plan]]:
    """Every corpus message planned once per database engine."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("corpus") / "tocsin.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
    else:
        db = Database(request.getfixturevalue("pg_url"))
        _truncate_pg(db)
    try:
        org_id = _seed(db)
        yield [plan(c["message"], org_id, db=db, settings=_settings(c)) for c in SAID]
    finally:
        db.dispose()


def _actions(draft: AlertDefinition) -> list[dict[str, Any]]:
    cfg = draft.action_config
    return [dict(a) for a in (cfg if isinstance(cfg, list) else [cfg])]


def _expected_alert(expect: dict[str, Any]) -> dict[str, Any]:
    want = DEFAULTS | {k: v for k, v in expect.items() if k in AlertDefinition.model_fields}
    if want["condition_type"] == "relative_change":
        want = RELATIVE_DEFAULTS | want
    want["threshold_value"] = Decimal(str(want["threshold_value"]))
    if want["recovery_threshold"] is not None:
        want["recovery_threshold"] = Decimal(str(want["recovery_threshold"]))
    return want


def _alert_diff(expect: dict[str, Any], result: Plan) -> list[str]:
    assert result.draft is not None and result.metric is not None
    diff = [] if result.metric.name == expect["metric"] else [f"metric {result.metric.name!r}"]
    got = result.draft.model_dump() | {"action_config": _actions(result.draft)}
    for key, want in _expected_alert(expect).items():
        if got[key] != want:
            diff.append(f"{key}: {got[key]!r} != {want!r}")
    return diff


def judge(case: dict[str, Any], result: Plan) -> tuple[str, list[str]]:
    """("right" | "asked" | "wrong", why): asked = a question where the corpus expects one;
    a question where it expects an alert is wrong too (over-cautious, but not the intent)."""
    expect = case["expect"]
    problems: list[str] = []
    if expect.get("asks"):
        if result.question is None or result.draft is not None or result.mute is not None:
            return "wrong", [f"expected a question, got {result.summary!r}"]
        question = result.question
        problems += [f"question lacks {f!r}: {question!r}"
                     for f in expect.get("question_contains", []) if f not in question]  # fmt: skip
        problems += [f"candidate {c!r} missing" for c in expect.get("candidates", [])
                     if c not in result.candidates]  # fmt: skip
        verdict = "asked"
    elif result.question is not None:
        return "wrong", [f"unexpected question: {result.question!r}"]
    elif expect["intent"] == "create_alert":
        if result.draft is None:
            return "wrong", ["no draft"]
        problems += _alert_diff(expect, result)
        verdict = "right"
    else:
        problems += _other_diff(expect, result)
        verdict = "right"
    if result.intent != expect["intent"]:
        problems.append(f"intent {result.intent!r}")
    if "unparsed" in expect and result.unparsed != expect["unparsed"]:
        problems.append(f"unparsed {result.unparsed!r}")
    if "notes_contain" in expect and not any(expect["notes_contain"] in n for n in result.notes):
        problems.append(f"notes {result.notes!r}")
    for fragment in expect.get("summary_contains", []):
        if fragment not in (result.summary or ""):
            problems.append(f"summary lacks {fragment!r}: {result.summary!r}")
    return ("wrong", problems) if problems else (verdict, [])


def _other_diff(expect: dict[str, Any], result: Plan) -> list[str]:
    intent = expect["intent"]
    if intent == "mute_alert":
        assert result.mute is not None
        got = (result.mute.alert.name, result.mute.seconds)
        want = (expect["alert"], expect["duration_seconds"])
    elif intent == "explain_alert":
        assert result.explanation is not None
        got, want = result.explanation["alert"]["name"], expect["alert"]
    elif intent == "list_alerts":
        got = result.metric.name if result.metric else None
        want = expect["metric"]
    else:
        got, want = result.metrics is not None, True
    return [] if got == want else [f"{got!r} != {want!r}"]


def test_corpus_is_big_and_covers_the_brief() -> None:
    assert len(CASES) >= 130
    said = {(c["message"], c.get("pagerduty_key", "")) for c in CASES}
    assert len(said) == len(CASES), "cases must differ"
    intents = {c["expect"]["intent"] for c in CASES}
    assert intents >= {"create_alert", "mute_alert", "explain_alert", "list_alerts", "unknown"}
    drafts = [c["expect"] for c in CASES if "comparison_op" in c["expect"]]
    assert {d["comparison_op"] for d in drafts} == {"gt", "gte", "lt", "lte", "eq", "ne"}
    assert {d.get("change_mode") for d in drafts} >= {"percent", "absolute"}
    kinds = {a["type"] for d in drafts for a in d.get("action_config", [])}
    assert kinds == {"slack", "webhook", "email", "pagerduty", "log"}
    assert any("cooldown_seconds" in d for d in drafts)
    assert any(d.get("pending_evaluations", 1) > 1 for d in drafts)
    for case in CASES:
        assert ("comparison_op" in case["expect"]) != bool(case["expect"].get("asks")) or (
            case["expect"]["intent"] != "create_alert"
        ), case["message"]
    tags = Counter(t for c in CASES for t in c.get("tags", []))
    for tag in ("negation", "duration", "window", "comparison", "channel", "percent"):
        assert tags[tag] >= 5, tag
    assert tags["positive"] >= 10


@pytest.mark.parametrize("index", range(len(SAID)), ids=[c["message"][:60] for c in SAID])
def test_phrasing(index: int, plans: list[Plan]) -> None:
    verdict, problems = judge(SAID[index], plans[index])
    assert verdict != "wrong", "; ".join(problems)


def test_an_empty_message_is_refused(plans: list[Plan]) -> None:
    [empty] = [c for c in CASES if not c["message"].strip()]
    with pytest.raises(InvalidInput, match="expected a sentence"):
        plan(empty["message"], uuid.uuid4(), db=Database("sqlite://"), settings=_settings(empty))


def test_scoreboard(plans: list[Plan], capsys: pytest.CaptureFixture[str]) -> None:
    """right / asked / wrong over the whole corpus; any wrong is a failure."""
    verdicts = Counter(judge(c, p)[0] for c, p in zip(SAID, plans, strict=True))
    with capsys.disabled():
        print(f"\nphrasing corpus: {dict(verdicts)} of {sum(verdicts.values())}")
    assert verdicts["wrong"] == 0
    assert verdicts["right"] + verdicts["asked"] == len(plans)
