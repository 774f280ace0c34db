"""``plan``: a chat message in, a typed :class:`Plan` out. Nothing here writes.

The plan is a draft alert (the :class:`AlertDefinition` that ``create_alert`` validates)
with its summary, dry run and backtest; or a proposed mute; or a list or an explanation;
or a clarifying question. Saving is :mod:`tocsin.ai.service`'s job, on confirmation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from tocsin.ai import meaning, offline
from tocsin.ai.explain import explain
from tocsin.ai.preview import backtest, dry_run
from tocsin.ai.proposals import (
    INTENTS,
    Clarify,
    CreateAlertArgs,
    ExplainAlertArgs,
    ListAlertsArgs,
    ListMetrics,
    MuteAlertArgs,
    Proposal,
)
from tocsin.ai.resolve import build_draft, resolve_alert, resolve_metric
from tocsin.ai.series_plan import metric_labels, series_of
from tocsin.ai.settings import PlannerSettings, load_planner_settings, pagerduty_key_of
from tocsin.ai.wording import summary
from tocsin.alerts.actions import redact_action_config
from tocsin.alerts.model import Alert, AlertDefinition
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.durations import format_duration
from tocsin.errors import InvalidInput, TocsinError
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.numbers import json_number

if TYPE_CHECKING:
    from pydantic_ai.models import Model


@dataclass
class MuteDraft:
    alert: Alert
    until: datetime
    seconds: int


@dataclass
class Plan:
    intent: str
    engine: str = "offline"
    question: str | None = None
    candidates: list[str] = field(default_factory=list)
    draft: AlertDefinition | None = None
    metric: Metric | None = None
    summary: str | None = None
    dry_run: dict[str, Any] | None = None
    backtest: dict[str, Any] | None = None
    alerts: list[Alert] | None = None
    metrics: list[Metric] | None = None
    explanation: dict[str, Any] | None = None
    mute: MuteDraft | None = None
    notes: list[str] = field(default_factory=list)
    # Words of the message the planner did not use (the offline reading's; a question
    # when any of them would change the alert's meaning).
    unparsed: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        """The ``--json`` shape (secrets in actions redacted); ``saved`` is the caller's."""
        mute = None
        if self.mute is not None:
            mute = {
                "alert_id": str(self.mute.alert.id),
                "alert": self.mute.alert.name,
                "until": self.mute.until.isoformat(),
                "for_seconds": self.mute.seconds,
            }
        return {
            "intent": self.intent,
            "engine": self.engine,
            "draft": draft_public(self.draft) if self.draft else None,
            "metric": {"id": str(self.metric.id), "name": self.metric.name}
            if self.metric
            else None,
            "summary": self.summary,
            "dry_run": self.dry_run,
            "backtest": self.backtest,
            "question": self.question,
            "candidates": self.candidates,
            "alerts": [a.public() for a in self.alerts] if self.alerts is not None else None,
            "metrics": [m.public() for m in self.metrics] if self.metrics is not None else None,
            "explanation": self.explanation,
            "mute": mute,
            "notes": self.notes,
            "unparsed": self.unparsed,
        }


def draft_public(draft: AlertDefinition) -> dict[str, Any]:
    data = draft.model_dump(mode="json")
    data["threshold_value"] = json_number(draft.threshold_value)
    data["action_config"] = redact_action_config(draft.action_config)
    return data


def plan(
    message: str,
    org_id: uuid.UUID,
    *,
    db: Database,
    settings: PlannerSettings | None = None,
    model: Model | None = None,
) -> Plan:
    """Plan ``message`` in ``org_id``: through the model when one is configured (or given),
    otherwise through the offline parser."""
    if not message.strip():
        raise InvalidInput("message", 'expected a sentence, e.g. "Notify me if Open Issues > 5"')
    settings = settings or load_planner_settings()
    if model is not None or settings.uses_model:
        return _plan_with_model(message, org_id, db=db, settings=settings, model=model)
    with db.connect() as conn:
        parsed = offline.parse(
            message,
            MetricStore(conn, org_id).names(),
            [a.name for a in AlertStore(conn, org_id).list_alerts()],
            pagerduty_key=pagerduty_key_of(settings),
            series_of=series_of(conn, org_id),
        )
        result = realize(conn, org_id, parsed.result, settings=settings)
    result.notes = parsed.notes + result.notes
    result.unparsed = parsed.unparsed
    if result.summary and parsed.unparsed:
        result.summary += ". I ignored: " + ", ".join(f'"{w}"' for w in parsed.unparsed)
    return result


def _plan_with_model(
    message: str,
    org_id: uuid.UUID,
    *,
    db: Database,
    settings: PlannerSettings,
    model: Model | None,
) -> Plan:
    """The model's proposal as a plan; the offline parser's when the model fails."""
    # Imported here: pydantic-ai's models take a while to load, and most plans are offline.
    from tocsin.ai.agent import ask_model

    answer = ask_model(message, org_id, db=db, settings=settings, model=model)
    if answer.failure is not None:
        # A model that is down or does not converge must not leave the user stuck.
        offline_settings = settings.model_copy(update={"llm_model": None})
        fallback = plan(message, org_id, db=db, settings=offline_settings)
        fallback.notes.append(f"the model failed ({answer.failure}); used the offline parser")
        return fallback
    if answer.proposal is None:
        return Plan("unknown", engine="model", question=answer.output or offline.HELP)
    with db.connect() as conn:
        if isinstance(answer.proposal, CreateAlertArgs):
            doubt = _review(conn, org_id, message, answer.proposal, settings)
            if doubt is not None:
                return doubt
        result = realize(conn, org_id, answer.proposal, settings=settings, engine="model")
    if answer.output:
        result.notes.append(f"model: {answer.output}")
    return result


def _review(
    conn: Connection,
    org_id: uuid.UUID,
    message: str,
    proposal: CreateAlertArgs,
    settings: PlannerSettings,
) -> Plan | None:
    """The model's alert must keep the message's meaning-changing words (a negation, a
    duration, a channel): checked against the offline reading of the same message."""
    reading = offline.parse(
        message,
        MetricStore(conn, org_id).names(),
        [a.name for a in AlertStore(conn, org_id).list_alerts()],
        pagerduty_key=pagerduty_key_of(settings),
        series_of=series_of(conn, org_id),
    )
    doubt = meaning.review(proposal, reading)
    if doubt is None:
        return None
    unused = [c.text for c in reading.cues if not c.handled] or reading.unparsed
    return Plan("create_alert", "model", doubt.question, doubt.candidates, unparsed=unused)


def realize(
    conn: Connection,
    org_id: uuid.UUID,
    proposal: Proposal | Clarify | ListMetrics,
    *,
    settings: PlannerSettings,
    engine: str = "offline",
) -> Plan:
    """Turn a proposal into a plan against this org's data (both engines end here)."""
    if isinstance(proposal, Clarify):
        return Plan(proposal.intent, engine, proposal.question, proposal.candidates)
    intent = INTENTS[type(proposal)]
    try:
        result = _realize(conn, org_id, proposal, settings)
    except TocsinError as exc:
        # Only a model proposes invalid fields; they reach the user as a question.
        return Plan(intent, engine, f"I could not draft that: {exc}. {offline.EXAMPLE}")
    if isinstance(result, Clarify):
        return Plan(intent, engine, result.question, result.candidates)
    result.engine = engine
    return result


def _realize(
    conn: Connection,
    org_id: uuid.UUID,
    proposal: Proposal | ListMetrics,
    settings: PlannerSettings,
) -> Plan | Clarify:
    if isinstance(proposal, ListMetrics):
        found = MetricStore(conn, org_id).list_metrics()
        text = ", ".join(m.name for m in found) if found else "no metrics yet"
        return Plan("list_metrics", metrics=found, summary=f"Metrics: {text}")
    if isinstance(proposal, ListAlertsArgs):
        return _list_alerts(conn, org_id, proposal)
    if isinstance(proposal, MuteAlertArgs):
        alert = resolve_alert(conn, org_id, proposal.alert, "mute_alert")
        if isinstance(alert, Clarify):
            return alert
        until = utcnow() + timedelta(seconds=proposal.duration_seconds)
        mute = MuteDraft(alert, until, proposal.duration_seconds)
        text = (
            f'Mute "{alert.name}" for {format_duration(proposal.duration_seconds)}, until '
            f"{until.strftime('%Y-%m-%d %H:%M UTC')}: it is still evaluated and recorded, "
            "but sends nothing."
        )
        return Plan("mute_alert", mute=mute, summary=text)
    if isinstance(proposal, ExplainAlertArgs):
        alert = resolve_alert(conn, org_id, proposal.alert, "explain_alert")
        if isinstance(alert, Clarify):
            return alert
        explanation = explain(conn, org_id, alert)
        return Plan("explain_alert", explanation=explanation, summary=explanation["text"])
    return _create(conn, org_id, proposal, settings)


def _list_alerts(conn: Connection, org_id: uuid.UUID, args: ListAlertsArgs) -> Plan | Clarify:
    metric = resolve_metric(conn, org_id, args.metric) if args.metric else None
    if isinstance(metric, Clarify):
        return metric
    found = AlertStore(conn, org_id).list_alerts(metric.id if metric else None)
    lines = [f"{a.name} [{a.state}{'' if a.enabled else ', disabled'}]" for a in found]
    where = f" on {metric.name}" if metric else ""
    text = f"Alerts{where}: " + "; ".join(lines) if lines else f"No alerts{where} yet."
    return Plan("list_alerts", alerts=found, metric=metric, summary=text)


def _create(
    conn: Connection, org_id: uuid.UUID, args: CreateAlertArgs, settings: PlannerSettings
) -> Plan | Clarify:
    built = build_draft(conn, org_id, args, pagerduty_key=pagerduty_key_of(settings))
    if isinstance(built, Clarify):
        return built
    draft, metric = built
    rule = rule_of(draft)
    watched = draft.series_filter
    return Plan(
        "create_alert",
        draft=draft,
        metric=metric,
        summary=summary(metric.name, draft, metric_labels(conn, metric)),
        dry_run=dry_run(conn, metric, rule, series_filter=watched),
        backtest=backtest(conn, metric, rule, series_filter=watched),
    )
