"""Create and edit an alert: the form, its live validation, and a preview that runs the
dry run and the backtest before anything is saved.

The form is turned into the API's request body and checked by the same models, so a
mistake reads the same here as in a 422 from ``POST /api/v1/alerts``.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tocsin.ai.preview import dry_run, run_backtest
from tocsin.alerts.actions.sealing import config_stand_ins, put_back
from tocsin.alerts.destinations import check_actions
from tocsin.alerts.model import Alert, AlertDefinition
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.api.errors import field_name, message_for
from tocsin.api.routes.common import restore_action_config
from tocsin.api.schemas import AlertCreate
from tocsin.crypto.fields import FieldPath
from tocsin.durations import format_duration
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.links import alert_path
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore
from tocsin.web.alert_form import ACTION_TYPES, FORM_FIELDS, Errors, action_rows, form_body
from tocsin.web.chart import backtest_chart
from tocsin.web.deps import DbDep, EditorDep, FormDep, SettingsDep, ViewerDep
from tocsin.web.render import redirect, render

router = APIRouter()


def check(
    conn: Connection, org_id: uuid.UUID, form: FormData, current: Alert | None = None
) -> tuple[AlertDefinition | None, Metric | None, Errors]:
    """Validate the form as the API would; a definition only when there is no error."""
    body, errors = form_body(form)
    if current is not None:
        # Settings the form does not show (set through the API or the CLI) stay as they
        # are, and so do its series settings when a post leaves them out.
        body.setdefault("series_filter", list(current.series_filter))
        body.setdefault("resolve_missing_after", current.resolve_missing_after)
        body["action_config"] = keep_hidden_settings(body["action_config"], current.actions)
        # Secrets shown redacted and posted back as they are keep their stored values.
        body["action_config"] = restore_action_config(body["action_config"], current.action_config)
    body["action_config"] = _without_nones(body["action_config"])
    # Kept secrets are sealed: validation sees stand-ins, the definition gets them back.
    kept: list[dict[FieldPath, str]] = []
    if current is not None:
        body["action_config"], kept = config_stand_ins(body["action_config"], current.actions)
    try:
        AlertCreate.model_validate(body)
    except ValidationError as exc:
        errors += [(field_name(e["loc"]), message_for(dict(e))) for e in exc.errors()]
    metric = None
    if body.get("metric_id"):
        try:
            metric = MetricStore(conn, org_id).get(body["metric_id"])
        except NotFound:
            errors.append(("metric_id", "expected one of this organisation's metrics"))
    if errors or metric is None:
        return None, metric, list(dict.fromkeys(errors))
    try:
        definition = AlertDefinition.model_validate(body | {"metric_id": metric.id})
    except ValidationError as exc:
        return None, metric, list(dict.fromkeys(InvalidInput.from_validation(exc).errors))
    if kept:
        restored = put_back(definition.action_config, kept)
        definition = definition.model_copy(update={"action_config": restored})
    return definition, metric, []


_TARGET_KEYS = ("url", "channelId", "to", "routing_key")


def keep_hidden_settings(new: Any, stored: list[dict[str, Any]]) -> Any:
    """Each edited action over the stored one it replaces (same place, same type and kind
    of target), so settings the form does not show (a PagerDuty severity, webhook
    headers, set through the API) survive an edit in the UI."""
    actions = [new] if isinstance(new, dict) else list(new)
    merged = []
    for i, action in enumerate(actions):
        old = stored[i] if i < len(stored) else None
        same = (
            old is not None
            and old.get("type") == action.get("type")
            and [k for k in _TARGET_KEYS if k in old] == [k for k in _TARGET_KEYS if k in action]
        )
        merged.append({**old, **action} if same and old is not None else action)
    return merged[0] if isinstance(new, dict) else merged


def _without_nones(config: Any) -> Any:
    if isinstance(config, dict):
        return {k: v for k, v in config.items() if v is not None}
    return [_without_nones(a) for a in config]


def _values(alert: Alert | None, metric_id: str | None) -> dict[str, Any]:
    """What the form shows: an alert's settings, or the defaults for a new one."""
    if alert is None:
        return {
            "metric_id": metric_id or "",
            "name": "",
            "description": "",
            "condition_type": "threshold",
            "comparison_op": "gt",
            "threshold_value": "",
            "change_mode": "percent",
            "lookback": 1,
            "cooldown_seconds": "1h",
            "repeat_every_seconds": "",
            "for_seconds": "",
            "keep_firing_seconds": "",
            "recovery_op": "lt",
            "recovery_threshold": "",
            "recover_from": "run",
            "pending_evaluations": 1,
            "resolve_missing_after": 2,
            "series_filter": "",
            "notify_on_resolve": True,
            "drop_resolve_when_muted": False,
            "on_no_data": "no_data",
            "on_error": "error",
            "failure_notice": True,
            "enabled": True,
            "actions": [{"kind": "log", "target": "", "secret": ""}],
        }
    public = alert.public()
    rows = []
    for action in (
        public["action_config"]
        if isinstance(public["action_config"], list)
        else [public["action_config"]]
    ):
        kind = action.get("type", "log")
        target = action.get("url") or action.get("routing_key") or ""
        if kind == "slack" and action.get("channelId"):
            kind, target = "slack-channel", action["channelId"]
        if kind == "email":
            target = ", ".join(action.get("to", []))
        rows.append({"kind": kind, "target": target, "secret": action.get("secret") or ""})
    return public | {
        "threshold_value": public["threshold_value"],
        "recovery_op": alert.recovery_op or "lt",
        "for_seconds": format_duration(alert.for_seconds) if alert.for_seconds else "",
        "keep_firing_seconds": format_duration(alert.keep_firing_seconds)
        if alert.keep_firing_seconds
        else "",
        "cooldown_seconds": format_duration(alert.cooldown_seconds)
        if alert.cooldown_seconds
        else "0",
        "series_filter": "\n".join(alert.series_filter),
        "repeat_every_seconds": format_duration(alert.repeat_every_seconds)
        if alert.repeat_every_seconds
        else ("0" if alert.repeat_every_seconds == 0 else ""),
        "actions": rows,
    }


def _from_form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: str(form.get(k, "")) for k in FORM_FIELDS}
    values["notify_on_resolve"] = form.get("notify_on_resolve") is not None
    values["drop_resolve_when_muted"] = form.get("drop_resolve_when_muted") is not None
    values["failure_notice"] = form.get("failure_notice") is not None
    values["enabled"] = form.get("enabled") is not None
    values["actions"] = action_rows(form)
    return values


def _form_page(
    request: Request,
    conn: Connection,
    org_id: uuid.UUID,
    values: dict[str, Any],
    *,
    alert: Alert | None,
    errors: Errors,
    status_code: int = 200,
) -> HTMLResponse:
    metrics = MetricStore(conn, org_id).list_metrics()
    while len(values["actions"]) < 3:
        values["actions"].append({"kind": "", "target": "", "secret": ""})
    context = {
        "values": values,
        "alert": alert,
        "metrics": metrics,
        "errors": errors,
        "by_field": {f: m for f, m in reversed(errors)},
        "action_types": ACTION_TYPES,
    }
    return render(request, "alert_form.html", context, status_code)


@router.get("/alerts/new", response_class=HTMLResponse)
def new_alert(
    request: Request, who: EditorDep, db: DbDep, metric: str | None = None
) -> HTMLResponse:
    with db.connect() as conn:
        return _form_page(request, conn, who.org_id, _values(None, metric), alert=None, errors=[])


@router.post("/alerts/new")
def create_alert(
    request: Request, who: ViewerDep, db: DbDep, cfg: SettingsDep, form: FormDep
) -> Response:
    with db.begin() as conn:
        definition, _, errors = check(conn, who.org_id, form)
        if definition is not None:
            try:
                warnings = check_actions(definition.action_config, cfg)
                alert = AlertStore(conn, who.org_id).create_alert(definition)
            except Conflict:
                errors = [("name", "an alert with this name already exists")]
            except InvalidInput as exc:
                errors = exc.errors
            else:
                flash = " ".join([f"Created {alert.name!r}.", *warnings])
                return redirect(request, alert_path(alert.id), flash=flash)
        return _form_page(
            request, conn, who.org_id, _from_form(form), alert=None, errors=errors, status_code=422
        )


@router.get("/alerts/{alert_id}/edit", response_class=HTMLResponse)
def edit_alert(request: Request, who: EditorDep, db: DbDep, alert_id: str) -> HTMLResponse:
    with db.connect() as conn:
        alert = AlertStore(conn, who.org_id).get_alert(alert_id)
        return _form_page(request, conn, who.org_id, _values(alert, None), alert=alert, errors=[])


@router.post("/alerts/{alert_id}/edit")
def save_alert(
    request: Request, who: ViewerDep, db: DbDep, cfg: SettingsDep, form: FormDep, alert_id: str
) -> Response:
    with db.begin() as conn:
        store = AlertStore(conn, who.org_id)
        current = store.get_alert(alert_id)
        definition, _, errors = check(conn, who.org_id, form, current)
        if definition is not None:
            changes = definition.model_dump(exclude={"muted_until"})
            try:
                warnings = check_actions(definition.action_config, cfg)
                alert = store.update_alert(current.id, changes)
            except Conflict:
                errors = [("name", "an alert with this name already exists")]
            except InvalidInput as exc:
                errors = exc.errors
            else:
                flash = " ".join(["Saved.", *warnings])
                return redirect(request, alert_path(alert.id), flash=flash)
        return _form_page(
            request,
            conn,
            who.org_id,
            _from_form(form),
            alert=current,
            errors=errors,
            status_code=422,
        )


def _current(conn: Connection, org_id: uuid.UUID, form: FormData) -> Alert | None:
    ref = str(form.get("alert_id", "")).strip()
    return AlertStore(conn, org_id).get_alert(ref) if ref else None


@router.post("/alerts/validate", response_class=HTMLResponse)
def validate(request: Request, who: ViewerDep, db: DbDep, form: FormDep) -> HTMLResponse:
    """Live validation while typing: the errors the API would answer, or none."""
    with db.connect() as conn:
        _, _, errors = check(conn, who.org_id, form, _current(conn, who.org_id, form))
    return render(request, "_form_errors.html", {"errors": errors, "checked": True})


@router.post("/alerts/preview", response_class=HTMLResponse)
def preview(request: Request, who: ViewerDep, db: DbDep, form: FormDep) -> HTMLResponse:
    """The dry run on the latest run and the backtest over recorded history, drawn."""
    with db.connect() as conn:
        definition, metric, errors = check(conn, who.org_id, form, _current(conn, who.org_id, form))
        if definition is None or metric is None:
            return render(request, "_form_errors.html", {"errors": errors, "checked": True})
        rule = rule_of(definition)
        watched = definition.series_filter
        back = run_backtest(conn, metric, rule, series_filter=watched)
        chart = backtest_chart(rule, [(e.completed_at or e.started_at, d) for e, d in back.chart])
        context = {
            "metric": metric,
            "dry": dry_run(conn, metric, rule, series_filter=watched),
            "back": back.summary,
            "chart": chart.public(),
            "chart_labels": back.chart_labels,
            "relative": rule.condition_type != "threshold",
        }
    return render(request, "_preview.html", context)
