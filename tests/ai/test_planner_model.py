"""The model path, offline: FunctionModel/TestModel, and one round trip through a local
server speaking the OpenAI chat-completions protocol."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pydantic_ai.models
import pytest
from ai_openai_stub import OpenAIStub, text, tool_call
from pydantic import SecretStr
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from tocsin.ai.agent import make_model
from tocsin.ai.planner import plan
from tocsin.ai.service import chat, commit
from tocsin.ai.settings import PlannerSettings
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore

OFFLINE = PlannerSettings()
SLACK_OPS = {"type": "slack", "channelId": "#ops"}


def _setup(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        metric = store.create({"name": "Open Issues", "source": {"type": "push"}})
        store.record_value(metric.id, 7)


def _alerts(db: Database, org_id: uuid.UUID) -> list[str]:
    with db.connect() as conn:
        return [a.name for a in AlertStore(conn, org_id).list_alerts()]


def _last_content(messages: list[ModelMessage]) -> str:
    return " ".join(str(getattr(p, "content", "")) for p in messages[-1].parts)


class Scripted:
    """A FunctionModel body: one response per request, recording what came back."""

    def __init__(self, *responses: ModelResponse) -> None:
        self.responses = list(responses)
        self.seen: list[str] = []
        self.tools: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.tools = [t.name for t in info.function_tools]
        self.seen.append(_last_content(messages))
        return self.responses.pop(0)


def test_invalid_tool_arguments_go_back_to_the_model(db: Database, org_id: uuid.UUID) -> None:
    assert pydantic_ai.models.ALLOW_MODEL_REQUESTS is False
    _setup(db, org_id)
    script = Scripted(
        ModelResponse(parts=[ToolCallPart("create_alert", {"metric": "Open Issues",
                                                           "comparison_op": "bigger",
                                                           "threshold_value": 5})]),
        ModelResponse(parts=[ToolCallPart("create_alert", {"metric": "Open Issues",
                                                           "comparison_op": "gt",
                                                           "threshold_value": 5,
                                                           "action_config": [SLACK_OPS]})]),
        ModelResponse(parts=[TextPart("Drafted an alert for Open Issues above 5.")]),
    )  # fmt: skip
    result = plan("Notify me on Slack #ops if Open Issues > 5", org_id, db=db,
                  settings=OFFLINE, model=FunctionModel(script))  # fmt: skip
    assert set(script.tools) == {
        "create_alert", "list_metrics", "list_alerts", "mute_alert", "explain_alert"
    }  # fmt: skip
    assert "comparison_op" in script.seen[1]
    assert "Proposed, not saved" in script.seen[2]
    assert result.engine == "model" and result.intent == "create_alert"
    assert result.draft is not None and result.draft.comparison_op == "gt"
    assert result.summary == "Fires when Open Issues is above 5; Slack #ops; at most once an hour"
    assert result.dry_run is not None and result.dry_run["text"] == "now 7: it would fire now"
    # The model only proposed: nothing is saved until the user confirms.
    assert _alerts(db, org_id) == []
    assert commit(db, org_id, result)["saved"]["name"] == "Open Issues > 5"


def test_semantic_errors_are_a_model_retry(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    script = Scripted(
        ModelResponse(parts=[ToolCallPart("create_alert", {"metric": "Open Issues",
                                                           "comparison_op": "gt",
                                                           "threshold_value": 5,
                                                           "action_config": [{"type": "sms"}]})]),
        ModelResponse(parts=[ToolCallPart("create_alert", {"metric": "Open Tickets",
                                                           "comparison_op": "gt",
                                                           "threshold_value": 5})]),
        ModelResponse(parts=[TextPart('Did you mean "Open Issues"?')]),
    )  # fmt: skip
    result = plan("tell me if open tickets > 5", org_id, db=db, settings=OFFLINE,
                  model=FunctionModel(script))  # fmt: skip
    assert "action_config" in script.seen[1] and "expected one of" in script.seen[1]
    assert 'Did you mean "Open Issues"' in script.seen[2]
    assert result.draft is None and result.question == 'Did you mean "Open Issues"?'


def test_mute_through_the_model_is_only_a_proposal(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    chat(db, org_id, "Notify me if Open Issues > 5", confirm=True)
    script = Scripted(
        ModelResponse(parts=[ToolCallPart("list_alerts", {"metric": None})]),
        ModelResponse(parts=[ToolCallPart("mute_alert", {"alert": "Open Issues > 5",
                                                         "duration_seconds": 3600})]),
        ModelResponse(parts=[TextPart("I can mute it for an hour.")]),
    )  # fmt: skip
    result = plan("shh the issues alert for an hour", org_id, db=db, settings=OFFLINE,
                  model=FunctionModel(script))  # fmt: skip
    assert "Open Issues > 5" in script.seen[1]
    assert result.intent == "mute_alert" and result.mute is not None
    assert result.mute.seconds == 3600
    with db.connect() as conn:
        assert AlertStore(conn, org_id).get_alert("Open Issues > 5").muted_until is None
    assert commit(db, org_id, result)["muted"]["muted_until"] is not None


def test_test_model_answer_without_a_proposal_is_a_question(
    db: Database, org_id: uuid.UUID
) -> None:
    _setup(db, org_id)
    model = TestModel(call_tools=["list_metrics"], custom_output_text="Which metric and value?")
    result = plan("make me an alert", org_id, db=db, settings=OFFLINE, model=model)
    assert result.intent == "unknown" and result.question == "Which metric and value?"
    assert result.draft is None and _alerts(db, org_id) == []


def test_real_models_are_never_called_in_tests(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    settings = PlannerSettings(llm_model="openai:gpt-4o-mini", llm_api_key=SecretStr("sk-test"))
    with pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
        plan("Notify me if Open Issues > 5", org_id, db=db, settings=settings)


def test_model_settings() -> None:
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.models.openai import OpenAIChatModel

    local = make_model(PlannerSettings(llm_model="ollama:qwen2.5:7b",
                                       llm_base_url="http://127.0.0.1:11434/v1"))  # fmt: skip
    assert isinstance(local, OpenAIChatModel) and local.model_name == "qwen2.5:7b"
    assert str(local.client.base_url).startswith("http://127.0.0.1:11434/v1")
    claude = make_model(PlannerSettings(llm_model="anthropic:claude-sonnet-4-5",
                                        llm_api_key=SecretStr("k")))  # fmt: skip
    assert isinstance(claude, AnthropicModel)
    with pytest.raises(ValueError):
        PlannerSettings(llm_base_url="ftp://nope")


def test_openai_compatible_round_trip(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TOCSIN_LLM_* pointing at a local OpenAI-compatible server: an invalid tool call,
    corrected on retry, becomes the plan; nothing is saved until confirmed."""
    _setup(db, org_id)
    bad = {"metric": "Open Issues", "comparison_op": "gt", "threshold_value": "five"}
    good = {"metric": "Open Issues", "comparison_op": "gt", "threshold_value": 5}
    stub = OpenAIStub(
        [tool_call("create_alert", bad, "call_1"), tool_call("create_alert", good, "call_2"),
         text("Drafted: Open Issues above 5.")]
    ).start()  # fmt: skip
    try:
        monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", True)
        monkeypatch.setenv("TOCSIN_LLM_MODEL", "openai:stub-model")
        monkeypatch.setenv("TOCSIN_LLM_BASE_URL", stub.url)
        monkeypatch.setenv("TOCSIN_LLM_API_KEY", "sk-local")
        out = chat(db, org_id, "Notify me if Open Issues > 5")
    finally:
        stub.stop()
    assert out["engine"] == "model" and out["question"] is None
    assert out["draft"]["threshold_value"] == 5 and out["saved"] is None
    assert len(stub.requests) == 3
    assert stub.requests[0]["model"] == "stub-model"
    assert {t["function"]["name"] for t in stub.requests[0]["tools"]} >= {"create_alert"}
    retry = [m for m in stub.requests[1]["messages"] if m["role"] == "tool"]
    assert retry and "threshold_value" in json.dumps(retry) and retry[0]["tool_call_id"] == "call_1"
    assert "Proposed, not saved" in json.dumps(stub.requests[2]["messages"][-1])
    assert _alerts(db, org_id) == []


def test_a_failing_model_falls_back_to_the_offline_parser(
    db: Database, org_id: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(db, org_id)
    error: dict[str, Any] = {"error": {"message": "bad key", "type": "invalid_request_error"}}
    stub = OpenAIStub([(401, error)]).start()
    try:
        monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", True)
        settings = PlannerSettings(llm_model="gpt-4o-mini", llm_base_url=stub.url)
        result = plan("Notify me if Open Issues > 5", org_id, db=db, settings=settings)
    finally:
        stub.stop()
    assert result.engine == "offline" and result.draft is not None
    assert any("model failed" in n for n in result.notes)


def _proposes(**args: Any) -> FunctionModel:
    """A model that proposes exactly this alert, then says so."""
    return FunctionModel(
        Scripted(
            ModelResponse(parts=[ToolCallPart("create_alert", args)]),
            ModelResponse(parts=[TextPart("Drafted.")]),
        )
    )


def _metrics(db: Database, org_id: uuid.UUID, *names: str) -> None:
    with db.begin() as conn:
        for name in names:
            MetricStore(conn, org_id).create({"name": name, "source": {"type": "push"}})


@pytest.mark.parametrize(
    ("message", "proposed", "said", "unparsed"),
    [
        ("notify me unless Error Rate is below 5",
         {"metric": "Error Rate", "comparison_op": "lt", "threshold_value": 5}, '"unless"', []),
        ("open issues isn't above 5",
         {"metric": "Open Issues", "comparison_op": "gt", "threshold_value": 5}, "isn't above 5",
         []),
        ("notify me if Queue Depth > 100 for 10 minutes",
         {"metric": "Queue Depth", "comparison_op": "gt", "threshold_value": 100},
         "hold for 10m", []),
        ("text me at +15551234567 if queue depth > 100",
         {"metric": "Queue Depth", "comparison_op": "gt", "threshold_value": 100,
          "action_config": [{"type": "log"}]}, "Slack", ["text me", "+15551234567"]),
        ("alert me if Error Rate never exceeds 5",
         {"metric": "Error Rate", "comparison_op": "gt", "threshold_value": 5}, '"never"',
         ["never"]),
        ("tell me when Queue Depth falls below 20%",
         {"metric": "Queue Depth", "comparison_op": "lt", "threshold_value": 20}, "below 20%",
         ["below 20%"]),
    ],
)  # fmt: skip
def test_a_model_alert_that_drops_a_meaning_changing_word_is_a_question(
    db: Database,
    org_id: uuid.UUID,
    message: str,
    proposed: dict[str, Any],
    said: str,
    unparsed: list[str],
) -> None:
    """The model's proposal is valid, but it lost the negation, duration, channel or
    percent of the message: the planner asks instead of drafting it."""
    _metrics(db, org_id, "Open Issues", "Error Rate", "Queue Depth")
    result = plan(message, org_id, db=db, settings=OFFLINE, model=_proposes(**proposed))
    assert result.engine == "model" and result.intent == "create_alert"
    assert result.draft is None and result.question is not None
    assert said in result.question
    # A negation it read is no unused word; what Tocsin cannot express is listed.
    assert result.public()["unparsed"] == unparsed
    assert _alerts(db, org_id) == []


def test_a_model_alert_that_keeps_the_negation_is_drafted(db: Database, org_id: uuid.UUID) -> None:
    _metrics(db, org_id, "Error Rate")
    good = {"metric": "Error Rate", "comparison_op": "gte", "threshold_value": 5}
    message = "notify me unless Error Rate is below 5"
    result = plan(message, org_id, db=db, settings=OFFLINE, model=_proposes(**good))
    assert result.question is None and result.draft is not None
    assert result.summary == "Fires when Error Rate is at least 5; log only; at most once an hour"
