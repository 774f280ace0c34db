"""The offline parser against the phrasing corpus (phrasings.json)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tocsin.ai.offline import parse
from tocsin.ai.proposals import INTENTS, Clarify, CreateAlertArgs
from tocsin.alerts.model import AlertDefinition

CORPUS = json.loads((Path(__file__).parent / "phrasings.json").read_text())
CASES = CORPUS["cases"]
CREATE_FIELDS = set(CreateAlertArgs.model_fields) - {"metric"}


def _parse(case: dict[str, Any]) -> Any:
    key = case.get("pagerduty_key", case["expect"].get("pagerduty_key", CORPUS["pagerduty_key"]))
    return parse(case["message"], CORPUS["metrics"], CORPUS["alerts"], pagerduty_key=key)


def test_corpus_is_big_and_covers_the_brief() -> None:
    assert len(CASES) >= 60
    intents = {c["expect"]["intent"] for c in CASES}
    assert intents >= {"create_alert", "mute_alert", "explain_alert", "list_alerts", "unknown"}
    drafts = [c["expect"] for c in CASES if "comparison_op" in c["expect"]]
    assert {d["comparison_op"] for d in drafts} == {"gt", "gte", "lt", "lte", "eq", "ne"}
    assert {d.get("change_mode") for d in drafts} >= {"percent", "absolute"}
    kinds = {a["type"] for d in drafts for a in d.get("action_config", [])}
    assert kinds == {"slack", "webhook", "email", "pagerduty", "log"}
    assert any("cooldown_seconds" in d for d in drafts)
    assert any(d.get("pending_evaluations", 1) > 1 for d in drafts)


@pytest.mark.parametrize("case", CASES, ids=[c["message"][:60] or "<empty>" for c in CASES])
def test_phrasing(case: dict[str, Any]) -> None:
    expect = case["expect"]
    parsed = _parse(case)
    result = parsed.result
    if "question_contains" in expect:
        assert isinstance(result, Clarify), f"expected a question, got {result!r}"
        assert result.intent == expect["intent"]
        for fragment in expect["question_contains"]:
            assert fragment in result.question
        assert set(expect.get("candidates", [])) <= set(result.candidates)
        return
    assert not isinstance(result, Clarify), result.question
    assert INTENTS[type(result)] == expect["intent"]
    got = result.model_dump() if hasattr(result, "model_dump") else {}
    for key, want in expect.items():
        if key in ("intent", "pagerduty_key"):
            continue
        if key == "notes_contain":
            assert any(want in note for note in parsed.notes)
        elif key == "threshold_value":
            assert got[key] == Decimal(str(want))
        else:
            assert got[key] == want, f"{key}: {got[key]!r} != {want!r}"


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in CASES
        if c["expect"]["intent"] == "create_alert" and "comparison_op" in c["expect"]
    ],
)
def test_every_draft_validates_as_an_alert(case: dict[str, Any]) -> None:
    """What the parser proposes is always a valid AlertDefinition once a metric id and the
    default destination are filled in (the planner's job)."""
    result = _parse(case).result
    assert isinstance(result, CreateAlertArgs)
    data = result.model_dump(exclude={"metric", "name", "action_config"})
    actions = result.action_config or [{"type": "log"}]
    AlertDefinition.model_validate(
        data
        | {
            "metric_id": "00000000-0000-0000-0000-000000000001",
            "name": result.name or "x",
            "action_config": actions,
        }
    )


@pytest.mark.parametrize("case", [c for c in CASES if "comparison_op" not in c["expect"]])
def test_no_alert_from_non_create_sentences(case: dict[str, Any]) -> None:
    assert not isinstance(_parse(case).result, CreateAlertArgs)
