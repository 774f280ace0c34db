"""From a proposal to things of this org: its metric, its alert, a validated draft.

Every lookup goes through the org-scoped stores, so another org's metric or alert is
never matched, whatever the proposal says.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from tocsin.ai.names import either, find_in_text, resolve
from tocsin.ai.proposals import Clarify, CreateAlertArgs
from tocsin.ai.series_plan import check_series, metric_labels
from tocsin.ai.wording import default_name
from tocsin.alerts.decision import AlertRule
from tocsin.alerts.model import MAX_NAME, Alert, AlertDefinition
from tocsin.alerts.store import AlertStore
from tocsin.errors import InvalidInput
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore


def resolve_metric(conn: Connection, org_id: uuid.UUID, ref: str) -> Metric | Clarify:
    store = MetricStore(conn, org_id)
    found = store.find(ref)
    if found is not None:
        return found
    names = store.names()
    match = resolve(ref, names)
    if match.name is not None:
        return store.get(match.name)
    if match.kind == "ambiguous":
        return Clarify(
            f'"{ref}" matches several metrics: which one, {either(match.candidates)}?',
            "create_alert",
            match.candidates,
        )
    if match.candidates:
        hint = f" Did you mean {either(match.candidates)}?"
    elif names:
        hint = f" Your metrics: {either(names[:10])}."
    else:
        hint = " There are no metrics yet: create one with `tocsin metric create`."
    return Clarify(
        f'I don\'t know a metric called "{ref}".{hint}', "create_alert", match.candidates
    )


def resolve_alert(conn: Connection, org_id: uuid.UUID, ref: str, intent: str) -> Alert | Clarify:
    """An alert by id, name, words of its name, or its metric's name when that metric has
    exactly one alert ("the signups alert")."""
    store = AlertStore(conn, org_id)
    found = store.find_alert(ref)
    if found is not None:
        return found
    alerts = store.list_alerts()
    names = [a.name for a in alerts]
    if not names:
        return Clarify("There are no alerts yet.", intent)
    written = find_in_text(ref, names)
    if len(written) == 1:
        return store.get_alert(written[0])
    match = resolve(ref, names)
    if match.name is not None:
        return store.get_alert(match.name)
    if match.kind == "ambiguous":
        return Clarify(f"Which alert: {either(match.candidates)}?", intent, match.candidates)
    metrics = MetricStore(conn, org_id)
    by_metric = resolve(ref, metrics.names())
    if by_metric.name is not None:
        metric = metrics.get(by_metric.name)
        on_metric = [a.name for a in alerts if a.metric_id == metric.id]
        if len(on_metric) == 1:
            return store.get_alert(on_metric[0])
        if on_metric:
            return Clarify(f"Which alert on {metric.name}: {either(on_metric)}?", intent, on_metric)
    close = match.candidates or names[:10]
    return Clarify(
        f'I don\'t know an alert called "{ref}". Alerts: {either(close)}.', intent, close
    )


def fill_actions(
    actions: list[dict[str, Any]], pagerduty_key: str | None
) -> list[dict[str, Any]] | Clarify:
    """No destination means the log (as ``alert create`` does); "page me" takes the
    configured routing key."""
    filled = []
    for action in actions or [{"type": "log"}]:
        if action.get("type") == "pagerduty" and not action.get("routing_key"):
            if not pagerduty_key:
                return Clarify(
                    "To page you I need a PagerDuty routing key: set "
                    "TOCSIN_PAGERDUTY_ROUTING_KEY, or give the key.",
                    "create_alert",
                )
            action = {**action, "routing_key": pagerduty_key}
        filled.append(action)
    return filled


def unique_name(conn: Connection, org_id: uuid.UUID, wanted: str) -> str:
    taken = {a.name for a in AlertStore(conn, org_id).list_alerts()}
    name, n = wanted[:MAX_NAME], 2
    while name in taken:
        suffix = f" ({n})"
        name, n = wanted[: MAX_NAME - len(suffix)] + suffix, n + 1
    return name


def build_draft(
    conn: Connection,
    org_id: uuid.UUID,
    args: CreateAlertArgs,
    *,
    pagerduty_key: str | None = None,
) -> tuple[AlertDefinition, Metric] | Clarify:
    """Validate a proposed alert exactly as ``create_alert`` will.

    Invalid fields raise InvalidInput (a model gets them back to fix; the offline parser
    never proposes them). A missing or ambiguous metric is a question for the user.
    """
    metric = resolve_metric(conn, org_id, args.metric)
    if isinstance(metric, Clarify):
        return metric
    doubt = check_series(metric, metric_labels(conn, metric), args.per, args.series_filter)
    if doubt is not None:
        return doubt
    actions = fill_actions(args.action_config, pagerduty_key)
    if isinstance(actions, Clarify):
        return actions
    data = args.model_dump(exclude={"metric", "name", "action_config", "per"})
    data |= {"metric_id": metric.id, "action_config": actions[0] if len(actions) == 1 else actions}
    if args.name is not None and AlertStore(conn, org_id).find_alert(args.name.strip()):
        taken = args.name.strip()
        return Clarify(
            f'An alert named "{taken}" already exists. Give another name, e.g. '
            f'"called \\"{unique_name(conn, org_id, taken)}\\"".',
            "create_alert",
        )
    rule = AlertRule(
        condition_type=args.condition_type,
        comparison_op=args.comparison_op,
        threshold_value=args.threshold_value,
        change_mode=args.change_mode,
        lookback=args.lookback,
    )
    data["name"] = args.name or unique_name(conn, org_id, default_name(metric.name, rule))
    try:
        return AlertDefinition.model_validate(data), metric
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None
