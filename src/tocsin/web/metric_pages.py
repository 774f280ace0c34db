"""The metrics page, a metric's page with its recent runs, a form to create one, and
"run now" (which also records a pushed value)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tocsin.alerts.store import AlertStore
from tocsin.cli.metric_options import build_definition
from tocsin.clock import utcnow
from tocsin.destinations import check_source
from tocsin.errors import Conflict, InvalidInput
from tocsin.execution.runs import NeedsValue, parse_value, run_now
from tocsin.links import metric_path
from tocsin.metrics.store import MetricStore
from tocsin.web.deps import DbDep, EditorDep, FormDep, HttpDep, SettingsDep, ViewerDep
from tocsin.web.queries import metric_rows
from tocsin.web.render import redirect, render

router = APIRouter()

SOURCES = {
    "push": "Push (values sent to Tocsin)",
    "http": "HTTP JSON endpoint",
    "sql": "SQL query",
    "demo": "Demo series",
}
_FORM_FIELDS = (
    "name",
    "description",
    "source",
    "url",
    "json_path",
    "sql",
    "dsn_credential",
    "dsn_env",
    "every",
    "cron",
    "timezone",
)


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, who: ViewerDep, db: DbDep) -> HTMLResponse:
    with db.connect() as conn:
        rows = metric_rows(conn, who.org_id)
    return render(request, "metrics.html", {"rows": rows, "nav": "metrics"})


def _form_page(
    request: Request, values: dict[str, str], errors: list[tuple[str, str]], status: int = 200
) -> HTMLResponse:
    context = {"values": values, "errors": errors, "sources": SOURCES, "nav": "metrics"}
    return render(request, "metric_form.html", context, status)


@router.get("/metrics/new", response_class=HTMLResponse)
def new_metric(request: Request, who: EditorDep) -> HTMLResponse:
    values = dict.fromkeys(_FORM_FIELDS, "") | {"source": "push", "timezone": "UTC"}
    return _form_page(request, values, [])


def _definition(values: dict[str, str]) -> dict[str, Any]:
    def opt(key: str) -> str | None:
        return values[key] or None

    source = values["source"]
    return build_definition(
        values["name"],
        source,
        sql=opt("sql") if source == "sql" else None,
        dsn_env=opt("dsn_env") if source == "sql" else None,
        dsn_credential=opt("dsn_credential") if source == "sql" else None,
        url=opt("url") if source == "http" else None,
        method=None,
        json_path=opt("json_path"),
        column=None,
        row=None,
        headers=[],
        every=opt("every") if source != "push" else None,
        cron=opt("cron") if source != "push" else None,
        timezone=(opt("timezone") if opt("cron") else None) if source != "push" else None,
        description=values["description"],
    )


@router.post("/metrics/new")
def create_metric(
    request: Request, who: ViewerDep, db: DbDep, cfg: SettingsDep, form: FormDep
) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in _FORM_FIELDS}
    try:
        definition = _definition(values)
        warnings = check_source(definition["source"], cfg)
        with db.begin() as conn:
            metric = MetricStore(conn, who.org_id).create(definition)
    except InvalidInput as exc:
        # The CLI's flag names (--every) read as the form's field names here.
        errors = [(field.removeprefix("--"), message) for field, message in exc.errors]
        return _form_page(request, values, errors, 422)
    except Conflict:
        return _form_page(
            request, values, [("name", "a metric with this name already exists")], 422
        )
    flash = " ".join([f"Created {metric.name!r}.", *warnings])
    return redirect(request, metric_path(metric.id), flash=flash)


@router.get("/metrics/{metric_id}", response_class=HTMLResponse)
def metric_page(request: Request, who: ViewerDep, db: DbDep, metric_id: str) -> HTMLResponse:
    with db.connect() as conn:
        store = MetricStore(conn, who.org_id)
        metric = store.get(metric_id)
        runs = store.executions(metric.id, limit=50)
        watching = AlertStore(conn, who.org_id).list_alerts(metric.id)
    context = {
        "metric": metric,
        "public": metric.public(),
        "runs": runs,
        "alerts": watching,
        "now": utcnow(),
        "nav": "metrics",
    }
    return render(request, "metric.html", context)


@router.post("/metrics/{metric_id}/run")
async def run_metric(
    request: Request,
    who: ViewerDep,
    db: DbDep,
    cfg: SettingsDep,
    http: HttpDep,
    form: FormDep,
    metric_id: str,
) -> Response:
    text = str(form.get("value", "")).strip()
    try:
        report = await run_now(
            db,
            who.org_id,
            metric_id,
            settings=cfg,
            http=http,
            value=parse_value(text) if text else None,
            has_value=bool(text),
        )
    except NeedsValue:
        return redirect(request, metric_path(metric_id), flash="Not run: enter a value to record.")
    except InvalidInput as exc:
        return redirect(request, metric_path(metric_id), flash=f"Not recorded: {exc.message}.")
    execution = report.execution
    fired = sum(1 for h in report.evaluations if h.notified and h.state_to == "triggered")
    shown = f"Run {execution.status}"
    if execution.value is not None:
        shown += f": value {execution.public()['value']}"
    shown += f"; {len(report.evaluations)} alert(s) evaluated, {fired} fired"
    if report.deliveries:
        shown += ", deliveries: " + ", ".join(d.status for d in report.deliveries)
    if execution.error:
        shown += f" ({execution.error})"
    return redirect(request, f"/ui/metrics/{execution.metric_id}", flash=shown + ".")
