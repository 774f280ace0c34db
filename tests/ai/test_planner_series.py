"""The planner per series (issue 16, item 5), offline and through a model, on SQLite and
PostgreSQL: "errors per service", "for each country", "except batch", "only for api"; and
a question naming the command when the metric has no series."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel

from tocsin.ai.planner import plan
from tocsin.ai.service import chat
from tocsin.ai.settings import PlannerSettings
from tocsin.alerts.evaluator import evaluate_alerts
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.metrics.store import MetricStore

OFFLINE = PlannerSettings()
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ERRORS = {"api": 7, "web": 2, "batch": 9}
NO_SERIES_QUESTION = (
    '"Open Issues" has one value per run, not one per repo. Do you want to split it by '
    "repo? Add `--series-by repo` to the metric first: `tocsin metric update 'Open Issues' "
    "--series-by repo`"
)


def _table(column: str, values: dict[str, int], label: str = "service") -> dict[str, Any]:
    return {"columns": [label, column], "rows": [[k, v] for k, v in values.items()]}


def _setup(db: Database, org_id: uuid.UUID) -> None:
    """Errors per service, signups per country (two runs each), Open Issues alone."""
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        errors = store.create(
            {
                "name": "Errors",
                "source": {"type": "push"},
                "selector": {"column": "errors", "series_by": ["service"]},
            }
        )
        store.record_value(errors.id, _table("errors", ERRORS), at=T0)
        signups = store.create(
            {
                "name": "Signups",
                "source": {"type": "push"},
                "selector": {"column": "n", "series_by": ["country"]},
            }
        )
        for i, counts in enumerate([{"DE": 100, "FR": 50}, {"DE": 70, "FR": 55}]):
            store.record_value(
                signups.id, _table("n", counts, "country"), at=T0 + timedelta(hours=i)
            )
        store.create({"name": "Open Issues", "source": {"type": "push"}})


def test_errors_per_service_watches_every_service(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    result = plan("Alert me when errors per service exceed 5", org_id, db=db, settings=OFFLINE)
    assert result.question is None and result.draft is not None
    assert result.metric is not None and result.metric.name == "Errors"
    assert (result.draft.comparison_op, result.draft.threshold_value) == ("gt", 5)
    assert result.draft.series_filter == []
    assert result.summary == (
        "Fires when Errors is above 5, for each service; log only; at most once an hour per service"
    )
    # The dry run and the backtest are per series
    assert result.dry_run is not None and result.backtest is not None
    assert result.dry_run["text"] == (
        "now 2 of 3 series breach: service=api (7), service=batch (9): it would fire now"
    )
    assert result.backtest["text"].startswith(
        "would have fired 2 times over the last run, in 2 of 3 series"
    )


def test_for_each_country_a_drop_of_20_percent(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    result = plan("for each country, tell me if signups drop 20%", org_id, db=db, settings=OFFLINE)
    assert result.question is None and result.draft is not None
    draft = result.draft
    assert (draft.condition_type, draft.comparison_op, draft.threshold_value) == (
        "relative_change",
        "lte",
        -20,
    )
    assert draft.series_filter == [] and result.unparsed == []
    assert result.summary is not None and ", for each country;" in result.summary
    # DE fell from 100 to 70, FR grew
    assert result.dry_run is not None
    assert result.dry_run["text"].startswith("now 1 of 2 series breach: country=DE (70)")


def test_except_batch_is_a_series_filter_the_saved_alert_keeps(
    db: Database, org_id: uuid.UUID
) -> None:
    _setup(db, org_id)
    for message in (
        "Alert me when errors per service exceed 5 except batch",
        "notify me if Errors > 5 but not batch",
        "tell me when Errors is over 5 for every service, excluding the batch",
    ):
        result = plan(message, org_id, db=db, settings=OFFLINE)
        assert result.draft is not None, (message, result.question)
        assert result.draft.series_filter == ["service!=batch"], message
        assert result.summary is not None
        assert "for each service except batch" in result.summary, message
        assert result.dry_run is not None
        assert result.dry_run["text"].startswith("now 1 of 2 series breach: service=api (7)")
    # Confirmed, the alert watches every service but batch
    saved = chat(db, org_id, "notify me if Errors > 5 but not batch", confirm=True)["saved"]
    assert saved["series_filter"] == ["service!=batch"]
    with db.begin() as conn:
        metric = MetricStore(conn, org_id).get("Errors")
        execution = MetricStore(conn, org_id).record_value(
            metric.id, _table("errors", {"api": 8, "batch": 50}), at=T0 + timedelta(hours=1)
        )
    fired = evaluate_alerts(db, metric.id, execution).evaluated
    assert [e.history["labels"] for e in fired] == [{"service": "api"}]


def test_only_for_api_watches_that_service(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    one = plan("notify me if Errors > 5 only for api", org_id, db=db, settings=OFFLINE)
    assert one.draft is not None and one.draft.series_filter == ["service=api"]
    assert one.summary is not None and "only for service=api" in one.summary
    two = plan("notify me if Errors > 5 only for api and web", org_id, db=db, settings=OFFLINE)
    assert two.draft is not None and two.draft.series_filter == ["service=~api|web"]


def test_per_x_on_a_metric_without_series_asks_naming_the_command(
    db: Database, org_id: uuid.UUID
) -> None:
    _setup(db, org_id)
    for message in (
        "notify me if Open Issues per repo > 5",
        "for each repo, tell me if Open Issues > 5",
        "alert me when Open Issues by repo is above 5",
    ):
        out = chat(db, org_id, message, confirm=True)
        assert out["question"] is not None and out["question"].startswith(NO_SERIES_QUESTION)
        assert out["draft"] is None and out["saved"] is None, message
    with db.connect() as conn:
        assert AlertStore(conn, org_id).list_alerts() == []
    left_out = plan("notify me if Open Issues > 5 except batch", org_id, db=db, settings=OFFLINE)
    assert left_out.draft is None and left_out.question is not None
    assert "tocsin metric update 'Open Issues' --series-by COLUMN" in left_out.question


def test_per_a_label_the_metric_is_not_split_by_asks(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    result = plan("alert me when Errors by region > 5", org_id, db=db, settings=OFFLINE)
    assert result.draft is None
    assert result.question == (
        '"Errors" is split by service, not by region. To alert for each region, add it: '
        "`tocsin metric update Errors --series-by service --series-by region`."
    )


def test_a_value_of_one_of_several_labels_asks_which(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        MetricStore(conn, org_id).create(
            {
                "name": "Latency",
                "source": {"type": "push"},
                "selector": {"column": "ms", "series_by": ["service", "region"]},
            }
        )
    asked = plan("alert me when Latency > 300 except batch", org_id, db=db, settings=OFFLINE)
    assert (
        asked.question
        == 'Which label is "batch": "service" or "region"? e.g. "except service=batch"'
    )
    named = plan(
        "alert me when Latency > 300 except service=batch", org_id, db=db, settings=OFFLINE
    )
    assert named.draft is not None and named.draft.series_filter == ["service!=batch"]


def test_labelled_pushes_are_series_without_series_by(db: Database, org_id: uuid.UUID) -> None:
    with db.begin() as conn:
        store = MetricStore(conn, org_id)
        depth = store.create({"name": "Queue Depth", "source": {"type": "push"}})
        store.record_value(depth.id, {"value": 7, "labels": {"queue": "mail"}}, at=T0)
    result = plan("notify me if Queue Depth > 5 for each queue", org_id, db=db, settings=OFFLINE)
    assert result.draft is not None and result.question is None
    assert result.summary is not None and "for each queue" in result.summary


def test_a_metric_without_series_plans_as_before(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    result = plan("Notify me if Open Issues > 5", org_id, db=db, settings=OFFLINE)
    assert result.summary == "Fires when Open Issues is above 5; log only; at most once an hour"
    assert result.draft is not None and result.draft.series_filter == []


# The model path --------------------------------------------------------------------


class Scripted:
    """A FunctionModel body: one response per request, recording what came back."""

    def __init__(self, *responses: ModelResponse) -> None:
        self.responses = list(responses)
        self.seen: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.seen.append(" ".join(str(getattr(p, "content", "")) for p in messages[-1].parts))
        return self.responses.pop(0)


def _create(**args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart("create_alert", args)])


def test_the_model_proposes_a_series_filter(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    script = Scripted(
        ModelResponse(parts=[ToolCallPart("list_metrics", {})]),
        _create(metric="Errors", comparison_op="gt", threshold_value=5, per=["service"],
                series_filter=["service!=batch"]),
        ModelResponse(parts=[TextPart("Drafted.")]),
    )  # fmt: skip
    message = "Alert me when errors per service exceed 5 except batch"
    result = plan(message, org_id, db=db, settings=OFFLINE, model=FunctionModel(script))
    # list_metrics told the model each metric's labels
    assert "'name': 'Errors', 'description': '', 'series_by': ['service']" in script.seen[1]
    assert result.engine == "model" and result.question is None
    assert result.draft is not None and result.draft.series_filter == ["service!=batch"]
    assert result.summary is not None and "for each service except batch" in result.summary


def test_the_model_asked_per_x_on_a_metric_without_series_gets_the_question(
    db: Database, org_id: uuid.UUID
) -> None:
    _setup(db, org_id)
    script = Scripted(
        _create(metric="Open Issues", comparison_op="gt", threshold_value=5, per=["repo"]),
        ModelResponse(parts=[TextPart("I asked about splitting the metric.")]),
    )
    out = plan(
        "notify me if Open Issues per repo > 5",
        org_id,
        db=db,
        settings=OFFLINE,
        model=FunctionModel(script),
    )
    assert "Not proposed: ask the user" in script.seen[1]
    assert out.engine == "model" and out.draft is None
    assert out.question is not None and out.question.startswith(NO_SERIES_QUESTION)


def test_a_model_that_drops_the_filter_is_questioned(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    script = Scripted(
        _create(metric="Errors", comparison_op="gt", threshold_value=5),
        ModelResponse(parts=[TextPart("Drafted.")]),
    )
    out = plan(
        "notify me if Errors > 5 but not batch",
        org_id,
        db=db,
        settings=OFFLINE,
        model=FunctionModel(script),
    )
    assert out.draft is None and out.question is not None
    assert "I read the series filter service!=batch, the model proposed none" in out.question


def test_a_model_that_only_replies_still_lists_series(db: Database, org_id: uuid.UUID) -> None:
    _setup(db, org_id)
    model = TestModel(call_tools=["list_metrics"], custom_output_text="Which threshold?")
    out = plan("errors per service", org_id, db=db, settings=OFFLINE, model=model)
    assert out.question == "Which threshold?" and out.draft is None
