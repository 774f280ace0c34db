"""The metrics page, a metric's page with its chart and recent runs, forms to create and
edit one, delete, and "run now" (which also records a pushed value)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tocsin.alerts.destinations import check_source
from tocsin.alerts.store import AlertStore
from tocsin.clock import utcnow
from tocsin.durations import format_duration
from tocsin.errors import Conflict, InvalidInput
from tocsin.execution.runs import NeedsValue, parse_value, run_now
from tocsin.links import metric_path
from tocsin.metrics.definition import build_definition, metric_changes
from tocsin.metrics.freshness import freshness_words
from tocsin.metrics.model import Metric
from tocsin.metrics.readings import run_words
from tocsin.metrics.store import MetricStore
from tocsin.web.chart import RANGE_LABELS, RANGES
from tocsin.web.deps import DbDep, EditorDep, FormDep, HttpDep, SettingsDep, ViewerDep
from tocsin.web.queries import metric_chart_data, metric_rows
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
    "fresh",
    "max_age",
    "expect_every",
)


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request, who: ViewerDep, db: DbDep) -> HTMLResponse:
    with db.connect() as conn:
        rows = metric_rows(conn, who.org_id)
    return render(request, "metrics.html", {"rows": rows, "nav": "metrics"})


Errors = list[tuple[str, str]]


def _form_page(
    request: Request,
    values: dict[str, str],
    errors: Errors,
    status: int = 200,
    *,
    metric: Metric | None = None,
) -> HTMLResponse:
    context = {
        "values": values,
        "errors": errors,
        "by_field": {f: m for f, m in reversed(errors)},
        "sources": SOURCES,
        "metric": metric,
        "nav": "metrics",
    }
    return render(request, "metric_form.html", context, status)


# The stored fields (and the builder's headers) under the form's names; the builder's
# other inputs are the form's own.
_FORM_NAMES = {
    "source.sql": "sql",
    "source.dsn_env": "dsn_env",
    "source.dsn_credential": "dsn_credential",
    "source.url": "url",
    "source.type": "source",
    "selector.json_path": "json_path",
    "selector.column": "column",
    "selector.row": "row",
    "selector.fresh_column": "fresh",
    "selector.fresh_path": "fresh",
    "selector.max_age_seconds": "max_age",
    "fresh_column": "fresh",
    "fresh_path": "fresh",
    "schedule.cron": "cron",
    "schedule.timezone": "timezone",
    "schedule.every_seconds": "every",
    "expect_every_seconds": "expect_every",
    "headers": "header",
}


def _spell(name: str) -> str:
    # A message names another input as the CLI's flag would (--cron), as the page has
    # always shown it.
    return "--" + name.replace("_", "-")


def _form_errors(exc: InvalidInput) -> Errors:
    """The builder's and the store's errors under the form's field names."""
    out = []
    for field, message in exc.errors:
        name = "header" if field.startswith("source.headers") else _FORM_NAMES.get(field, field)
        out.append((name.replace("-", "_").lower(), message))
    return out


@router.get("/metrics/new", response_class=HTMLResponse)
def new_metric(request: Request, who: EditorDep) -> HTMLResponse:
    values = dict.fromkeys(_FORM_FIELDS, "") | {"source": "push", "timezone": "UTC"}
    return _form_page(request, values, [])


def _fresh_inputs(text: str) -> tuple[str | None, str | None]:
    """The form's one "Fresh column / path" field as (column, path): a JSONPath starts
    with ``$``, as every JSONPath does; anything else names a column."""
    if not text:
        return None, None
    return (None, text) if text.startswith("$") else (text, None)


def _definition(values: dict[str, str]) -> dict[str, Any]:
    def opt(key: str) -> str | None:
        return values[key] or None

    source = values["source"]
    fresh_column, fresh_path = _fresh_inputs(values["fresh"])
    return build_definition(
        values["name"],
        source,
        sql=opt("sql") if source == "sql" else None,
        dsn_env=opt("dsn_env") if source == "sql" else None,
        dsn_credential=opt("dsn_credential") if source == "sql" else None,
        url=opt("url") if source == "http" else None,
        method=None,
        json_path=opt("json_path"),
        fresh_column=fresh_column,
        fresh_path=fresh_path,
        max_age=opt("max_age"),
        column=None,
        row=None,
        headers=[],
        every=opt("every") if source != "push" else None,
        cron=opt("cron") if source != "push" else None,
        timezone=(opt("timezone") if opt("cron") else None) if source != "push" else None,
        description=values["description"],
        expect_every=opt("expect_every"),
        spell=_spell,
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
        return _form_page(request, values, _form_errors(exc), 422)
    except Conflict:
        return _form_page(
            request, values, [("name", "a metric with this name already exists")], 422
        )
    flash = " ".join([f"Created {metric.name!r}.", *warnings])
    return redirect(request, metric_path(metric.id), flash=flash)


RangeQuery = Annotated[str, Query(max_length=10)]


def push_command(public_url: str, metric: Metric) -> str:
    """The line that pushes a value from a shell. The key stays an environment variable
    (in double quotes, so the shell expands it): the page never shows a key."""
    url = f"{public_url.rstrip('/')}/api/v1/metrics/{metric.id}/values"
    return (
        f'curl -X POST {url} -H "Authorization: Bearer $TOCSIN_API_KEY" '
        "-H 'Content-Type: application/json' -d '{\"value\": 6}'"
    )


def deletion_words(name: str, alerts: int, runs: int) -> str:
    return f"Delete metric {name!r} with its {alerts} alert(s) and {runs} run(s)?"


@router.get("/metrics/{metric_id}", response_class=HTMLResponse)
def metric_page(
    request: Request,
    who: ViewerDep,
    db: DbDep,
    cfg: SettingsDep,
    metric_id: str,
    range: RangeQuery = "24h",
) -> HTMLResponse:
    with db.connect() as conn:
        store = MetricStore(conn, who.org_id)
        metric = store.get(metric_id)
        runs = store.executions(metric.id, limit=50)
        watching = AlertStore(conn, who.org_id).list_alerts(metric.id)
        n_alerts, n_runs = store.dependents(metric.id)
    push = metric.source.get("type") == "push"
    context = {
        "metric": metric,
        "public": metric.public(),
        "runs": runs,
        # What each run read, as its alerts saw it: stale data and silence say so.
        "readings": {run.id: run_words(run, metric) for run in runs},
        "alerts": watching,
        "now": utcnow(),
        "nav": "metrics",
        "range": range if range in RANGES else "24h",
        "ranges": RANGE_LABELS,
        "push_command": push_command(cfg.public_url, metric) if push else None,
        "freshness": freshness_words(metric.selector),
        "expect_every": format_duration(metric.expect_every_seconds)
        if metric.expect_every_seconds
        else None,
        # Deleting takes the alerts and runs along: then the button asks first.
        "delete_question": deletion_words(metric.name, n_alerts, n_runs)
        if n_alerts or n_runs
        else None,
    }
    return render(request, "metric.html", context)


@router.get("/metrics/{metric_id}/chart.json")
def metric_chart(
    who: ViewerDep, db: DbDep, metric_id: str, range: RangeQuery = "24h"
) -> JSONResponse:
    if range not in RANGES:
        raise InvalidInput("range", f"expected one of {', '.join(RANGES)}")
    with db.connect() as conn:
        metric = MetricStore(conn, who.org_id).get(metric_id)
        data = metric_chart_data(conn, who.org_id, metric.id, range, now=utcnow())
    return JSONResponse(data.public())


def _shown(metric: Metric) -> dict[str, str]:
    """What the edit form shows of a stored metric."""
    source, selector, schedule = metric.source, metric.selector, metric.schedule
    every = schedule.every_seconds if schedule is not None else None
    return dict.fromkeys(_FORM_FIELDS, "") | {
        "name": metric.name,
        "description": metric.description,
        "source": str(source.get("type", "")),
        "url": str(source.get("url") or ""),
        "sql": str(source.get("sql") or ""),
        "dsn_credential": str(source.get("dsn_credential") or ""),
        "dsn_env": str(source.get("dsn_env") or ""),
        "json_path": (selector.json_path or "") if selector is not None else "",
        "fresh": (selector.fresh_column or selector.fresh_path or "") if selector else "",
        "max_age": format_duration(age) if selector and (age := selector.max_age_seconds) else "",
        "every": format_duration(every) if every else "",
        "cron": (schedule.cron or "") if schedule is not None else "",
        "timezone": (schedule.timezone or "UTC") if schedule is not None else "UTC",
        "enabled": "on" if metric.enabled else "",
        "expect_every": format_duration(expect) if (expect := metric.expect_every_seconds) else "",
    }


@router.get("/metrics/{metric_id}/edit", response_class=HTMLResponse)
def edit_metric(request: Request, who: EditorDep, db: DbDep, metric_id: str) -> HTMLResponse:
    with db.connect() as conn:
        metric = MetricStore(conn, who.org_id).get(metric_id)
    return _form_page(request, _shown(metric), [], metric=metric)


def _changes(
    current: Metric, values: dict[str, str], enabled: bool, expect_shown: bool = True
) -> dict[str, Any]:
    """The edit as ``metric update`` would make it: checked by the same builder as a new
    metric, then merged onto the stored one, so what the form does not show (an HTTP
    source's headers and method, a selector's column) is kept."""
    _definition(values)

    def opt(key: str) -> str | None:
        return values[key] or None

    kind = values["source"]
    scheduled = kind != "push"
    fresh_column, fresh_path = _fresh_inputs(values["fresh"])
    # An emptied field means "unchanged" to the merge: where the metric cannot do
    # without it, it is a mistake to show, not a silent no-op.
    for field, needed, message in (
        ("url", kind == "http", "expected the URL to read"),
        ("sql", kind == "sql", "expected the query to run"),
        ("every", scheduled and not opt("cron"), "expected a schedule: every 5m, or a cron"),
    ):
        if needed and not opt(field):
            raise InvalidInput(field, message)
    return metric_changes(
        current,
        name=values["name"],
        source={
            "sql": opt("sql") if kind == "sql" else None,
            "dsn_credential": opt("dsn_credential") if kind == "sql" else None,
            "dsn_env": opt("dsn_env") if kind == "sql" else None,
            "url": opt("url") if kind == "http" else None,
        },
        selector={
            "json_path": opt("json_path"),
            "fresh_column": fresh_column,
            "fresh_path": fresh_path,
        },
        # The fields show the stored freshness: both emptied, it is turned off (one
        # emptied alone was refused by _definition above).
        max_age=values["max_age"] or "off",
        every=opt("every") if scheduled else None,
        cron=opt("cron") if scheduled else None,
        timezone=(opt("timezone") if opt("cron") else None) if scheduled else None,
        enabled=enabled,
        description=values["description"],
        # The field shows the stored period: emptied, it turns the switch off (a post
        # without the field leaves it as it is).
        expect_every=(values["expect_every"] or "off") if expect_shown else None,
        spell=_spell,
    )


@router.post("/metrics/{metric_id}/edit")
def save_metric(
    request: Request, who: ViewerDep, db: DbDep, cfg: SettingsDep, form: FormDep, metric_id: str
) -> Response:
    values = {k: str(form.get(k, "")).strip() for k in _FORM_FIELDS}
    enabled = form.get("enabled") is not None
    with db.begin() as conn:
        store = MetricStore(conn, who.org_id)
        current = store.get(metric_id)
        # An edit keeps the source's type, as `metric update` does: another kind of
        # source is another metric.
        values["source"] = str(current.source.get("type", ""))
        if "fresh" not in form and "max_age" not in form:
            # A post without the fields (not this form's) keeps the stored check.
            values |= {k: _shown(current)[k] for k in ("fresh", "max_age")}
        try:
            changes = _changes(current, values, enabled, "expect_every" in form)
            warnings = check_source(changes["source"], cfg) if "source" in changes else []
            metric = store.update(current.id, changes)
        except InvalidInput as exc:
            errors = _form_errors(exc)
        except Conflict:
            errors = [("name", "a metric with this name already exists")]
        else:
            flash = " ".join(["Saved.", *warnings])
            return redirect(request, metric_path(metric.id), flash=flash)
    shown = values | {"enabled": "on" if enabled else ""}
    return _form_page(request, shown, errors, 422, metric=current)


@router.post("/metrics/{metric_id}/delete")
def delete_metric(
    request: Request, who: ViewerDep, db: DbDep, form: FormDep, metric_id: str
) -> Response:
    with db.begin() as conn:
        store = MetricStore(conn, who.org_id)
        metric = store.get(metric_id)
        n_alerts, n_runs = store.dependents(metric.id)
        if (n_alerts or n_runs) and form.get("confirm") != "yes":
            # As `tocsin metric delete` without --yes: nothing goes before it is asked.
            question = deletion_words(metric.name, n_alerts, n_runs)
            context = {"metric": metric, "question": question, "nav": "metrics"}
            return render(request, "metric_delete.html", context)
        store.delete(metric.id)
    gone = f"Deleted metric {metric.name!r}"
    if n_alerts or n_runs:
        gone += f" with its {n_alerts} alert(s) and {n_runs} run(s)"
    return redirect(request, "/ui/metrics", flash=gone + ".")


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
    return redirect(request, metric_path(execution.metric_id), flash=shown + ".")
