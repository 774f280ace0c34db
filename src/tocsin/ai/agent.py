"""The model path: a pydantic-ai agent whose tools only propose.

Tool arguments are the Pydantic models of :mod:`tocsin.ai.proposals`: pydantic-ai
validates them and sends schema errors back to the model; the tools then check them
against this org's data (the same ``build_draft`` the offline path uses) and answer
``ModelRetry`` with what to fix. A valid call records a proposal and saves nothing: the
agent answers with the last proposal (:class:`ModelAnswer`), the planner turns it into
the plan and owns the fallback to the offline parser, and the user confirms.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic_ai import Agent, ModelRetry, RunContext
from pydantic_ai.exceptions import AgentRunError, UserError
from pydantic_ai.models import Model, infer_model
from pydantic_ai.settings import ModelSettings

from tocsin.ai.explain import explain
from tocsin.ai.proposals import (
    Clarify,
    CreateAlertArgs,
    ExplainAlertArgs,
    ListAlertsArgs,
    MuteAlertArgs,
    Proposal,
)
from tocsin.ai.resolve import build_draft, resolve_alert
from tocsin.ai.series_plan import metric_labels
from tocsin.ai.settings import PlannerSettings, pagerduty_key_of
from tocsin.ai.wording import summary
from tocsin.alerts.decision import describe_condition
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.durations import format_duration
from tocsin.errors import InvalidInput
from tocsin.metrics.store import MetricStore

T = TypeVar("T")
REQUEST_TIMEOUT = 60.0
# Beyond this the model is not converging; the offline parser answers instead.
TOOL_RETRIES = 3
_COMPATIBLE_PREFIXES = ("openai:", "openai-chat:", "ollama:", "vllm:")

INSTRUCTIONS = """\
You help users of Tocsin, a metric alerting service, by calling ONE of these tools:
create_alert, mute_alert, explain_alert, list_alerts; list_metrics only looks names up.
Tools only propose: nothing is saved until the user confirms, so never claim it was saved.
Rules:
- Use the exact metric name from list_metrics. If the user's metric does not clearly match
  one, or two could match, do not call create_alert: reply with a short question listing
  the closest names.
- If the threshold is missing ("if errors are high"), ask for it instead of inventing one.
- A drop of more than 20% is condition_type relative_change, change_mode percent,
  comparison_op lt, threshold_value -20; "increases by 50" is gte 50, change_mode absolute.
  "day over day" or "from the previous run" is lookback 1.
- "at most once an hour" is cooldown_seconds 3600; "every time" is 0.
  "for 3 runs in a row" is pending_evaluations 3.
- Destinations: Slack #ops is {"type":"slack","channelId":"#ops"}; an https URL is a
  webhook; "email a@b.com" is {"type":"email","to":["a@b.com"]}; "page me" is
  {"type":"pagerduty"}. No destination: leave action_config empty.
- Negations: "isn't above 5" is lte 5; "notify me unless X is below 5" is gte 5.
- Tocsin has no field for a duration ("for 10 minutes"), a time window ("in the last
  hour"), a date comparison ("week over week", "5 days ago"), an average, or channels
  other than Slack, webhook, email, PagerDuty and log (no SMS, calls, Teams, Discord...):
  do not call create_alert then; ask, naming what Tocsin can do.
- "falls below 20%" may be the value or a drop: ask which.
- Series: one alert watches every series of its metric (list_metrics gives each metric's
  series_by labels, e.g. service). "errors per service", "for each country", "by region":
  set per to ["service"], ["country"], ["region"] as said, whatever the metric's labels.
  "except batch" / "but not batch" is series_filter ["service!=batch"], "only for api"
  ["service=api"], with the metric's label name. Nothing said: leave both empty.
- If the request is not about alerts, reply briefly with what you can do.
After a successful tool call, reply with one short sentence.
"""


@dataclass
class Deps:
    db: Database
    org_id: uuid.UUID
    settings: PlannerSettings
    proposal: Proposal | None = None
    calls: list[str] = field(default_factory=list)


def make_model(settings: PlannerSettings) -> Model:
    """``TOCSIN_LLM_MODEL`` as a pydantic-ai model; with ``TOCSIN_LLM_BASE_URL`` an
    OpenAI-compatible server (Ollama, vLLM) at that URL."""
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    name = settings.llm_model or ""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    try:
        if settings.llm_base_url:
            bare = next((name[len(p) :] for p in _COMPATIBLE_PREFIXES if name.startswith(p)), name)
            # Local servers ignore the key, but the OpenAI client insists on one.
            provider = OpenAIProvider(base_url=settings.llm_base_url, api_key=key or "unused")
            return OpenAIChatModel(bare, provider=provider)
        vendor, _, bare = name.partition(":")
        if key and vendor in ("openai", "openai-chat"):
            return OpenAIChatModel(bare, provider=OpenAIProvider(api_key=key))
        if key and vendor == "anthropic":
            from pydantic_ai.models.anthropic import AnthropicModel
            from pydantic_ai.providers.anthropic import AnthropicProvider

            return AnthropicModel(bare, provider=AnthropicProvider(api_key=key))
        return infer_model(name)
    except (UserError, ValueError, ImportError) as exc:
        raise InvalidInput("TOCSIN_LLM_MODEL", f"cannot use model {name!r}: {exc}") from None


def build_agent() -> Agent[Deps, str]:
    agent: Agent[Deps, str] = Agent(
        deps_type=Deps,
        output_type=str,
        instructions=INSTRUCTIONS,
        retries=TOOL_RETRIES,
        model_settings=ModelSettings(timeout=REQUEST_TIMEOUT),
    )

    @agent.tool
    def list_metrics(ctx: RunContext[Deps]) -> list[dict[str, Any]]:
        """This org's metrics: exact names, descriptions, and the labels that tell their
        series apart (series_by; empty: one value per run)."""
        ctx.deps.calls.append("list_metrics")
        with ctx.deps.db.connect() as conn:
            found = MetricStore(conn, ctx.deps.org_id).list_metrics()
            labels = {m.id: metric_labels(conn, m) for m in found}
        return [
            {"name": m.name, "description": m.description, "series_by": labels[m.id]} for m in found
        ]

    @agent.tool
    def list_alerts(ctx: RunContext[Deps], args: ListAlertsArgs) -> list[dict[str, str]]:
        """This org's alerts (optionally of one metric): names, conditions, states."""
        ctx.deps.calls.append("list_alerts")
        with ctx.deps.db.connect() as conn:
            alerts = AlertStore(conn, ctx.deps.org_id).list_alerts()
            names = {m.id: m.name for m in MetricStore(conn, ctx.deps.org_id).list_metrics()}
        ctx.deps.proposal = args
        shown = [
            {
                "name": a.name,
                "metric": names.get(a.metric_id, "?"),
                "condition": describe_condition(rule_of(a)),
                "state": a.state,
            }
            for a in alerts
        ]
        if args.metric:
            shown = [s for s in shown if s["metric"].lower() == args.metric.lower()] or shown
        return shown

    @agent.tool
    def create_alert(ctx: RunContext[Deps], args: CreateAlertArgs) -> str:
        """Propose an alert on a metric. The user reviews and confirms it."""
        ctx.deps.calls.append("create_alert")
        with ctx.deps.db.connect() as conn:
            try:
                built = build_draft(
                    conn, ctx.deps.org_id, args, pagerduty_key=pagerduty_key_of(ctx.deps.settings)
                )
            except InvalidInput as exc:
                raise ModelRetry(f"invalid arguments: {exc}. Fix them and call again.") from None
        if isinstance(built, Clarify) and (args.per or args.series_filter):
            # A question about the metric's series is the user's to answer, not the
            # model's to fix: the planner asks it.
            ctx.deps.proposal = args
            return f"Not proposed: ask the user this, word for word: {built.question}"
        if isinstance(built, Clarify):
            raise ModelRetry(
                f"{built.question} Call list_metrics for the exact names; if none clearly is "
                "what the user meant, reply with that question instead of calling a tool."
            )
        draft, metric = built
        ctx.deps.proposal = args
        with ctx.deps.db.connect() as conn:
            said = summary(metric.name, draft, metric_labels(conn, metric))
        return f"Proposed, not saved: {said}. The user will confirm."

    @agent.tool
    def mute_alert(ctx: RunContext[Deps], args: MuteAlertArgs) -> str:
        """Propose muting an alert for a while. The user confirms."""
        ctx.deps.calls.append("mute_alert")
        alert = _alert(ctx.deps, args.alert, "mute_alert")
        ctx.deps.proposal = args
        return (
            f'Proposed, not applied: mute "{alert}" for {format_duration(args.duration_seconds)}.'
        )

    @agent.tool
    def explain_alert(ctx: RunContext[Deps], args: ExplainAlertArgs) -> str:
        """Why an alert fired or did not: its last evaluations and their reasons."""
        ctx.deps.calls.append("explain_alert")
        with ctx.deps.db.connect() as conn:
            found = resolve_alert(conn, ctx.deps.org_id, args.alert, "explain_alert")
            if isinstance(found, Clarify):
                raise ModelRetry(f"{found.question} Call list_alerts for the exact names.")
            text: str = explain(conn, ctx.deps.org_id, found)["text"]
        ctx.deps.proposal = args
        return text

    return agent


def _alert(deps: Deps, ref: str, intent: str) -> str:
    with deps.db.connect() as conn:
        found = resolve_alert(conn, deps.org_id, ref, intent)
    if isinstance(found, Clarify):
        raise ModelRetry(f"{found.question} Call list_alerts for the exact names.")
    return found.name


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine from sync code, also when the caller is inside an event loop
    (an async web route): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


@dataclass
class ModelAnswer:
    """What the model made of a message: the proposal its last valid tool call recorded
    (None when it only replied), its reply, or the failure that stopped it."""

    proposal: Proposal | None
    output: str = ""
    failure: str | None = None  # the exception's name


def ask_model(
    message: str,
    org_id: uuid.UUID,
    *,
    db: Database,
    settings: PlannerSettings,
    model: Model | None = None,
) -> ModelAnswer:
    """Run the agent on ``message``; the planner turns the answer into a plan."""
    chosen = model or make_model(settings)
    deps = Deps(db=db, org_id=org_id, settings=settings)
    agent = build_agent()
    try:
        output = run_sync(lambda: agent.run(message, deps=deps, model=chosen)).output
    except (AgentRunError, OSError) as exc:
        return ModelAnswer(None, failure=type(exc).__name__)
    return ModelAnswer(deps.proposal, output)
