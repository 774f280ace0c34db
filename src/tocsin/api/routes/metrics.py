"""``/api/v1/metrics``: metrics, runs, pushed values and executions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select

from tocsin.alerts.destinations import check_source
from tocsin.api.push import ValuesIn
from tocsin.api.roles import Editor, require_role
from tocsin.api.routes.common import (
    CONFLICT,
    FORBIDDEN,
    RESPONSES,
    Caller,
    CallerDep,
    SortKey,
    database,
    http_client,
    page,
    respond,
    restore_source,
    settings,
    with_warnings,
)
from tocsin.api.routes.responses import (
    ExecutionPage,
    MetricDeleted,
    MetricOut,
    MetricPage,
    RunReportOut,
)
from tocsin.api.schemas import MetricCreate, MetricPatch
from tocsin.db.database import Database
from tocsin.db.schema import metric_executions, metrics
from tocsin.errors import InvalidInput
from tocsin.execution.runs import NeedsValue, run_now
from tocsin.http import HttpClient
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore, row_to_execution, row_to_metric
from tocsin.settings import Settings

router = APIRouter(prefix="/metrics", tags=["metrics"], responses=RESPONSES)

MetricRef = Annotated[
    str,
    Path(
        alias="id",
        min_length=1,
        max_length=200,
        description="Metric ID or name.",
        examples=["Open Issues"],
    ),
]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=500, description="`next_cursor` of the previous page.")
]
DbDep = Annotated[Database, Depends(database)]
SettingsDep = Annotated[Settings, Depends(settings)]
HttpDep = Annotated[HttpClient, Depends(http_client)]


def _owned(conn: Connection, org_id: uuid.UUID, ref: str) -> object:
    return MetricStore(conn, org_id).get(ref)


MetricEditor = Annotated[Caller, Depends(require_role("editor", owns=_owned))]


@router.get("", response_model=MetricPage, summary="List metrics, by name")
def list_metrics(
    who: CallerDep, db: DbDep, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    query = select(metrics).where(metrics.c.org_id == who.org_id)
    keys = [SortKey(metrics.c.name, "str"), SortKey(metrics.c.id, "uuid")]
    with db.connect() as conn:
        rows, nxt = page(conn, query, keys, limit=limit, cursor=cursor)
    return respond({"items": [row_to_metric(r).public() for r in rows], "next_cursor": nxt})


@router.post(
    "",
    response_model=MetricOut,
    status_code=201,
    responses={**CONFLICT, **FORBIDDEN},
    summary="Create a metric",
)
def create_metric(who: Editor, db: DbDep, cfg: SettingsDep, body: MetricCreate) -> JSONResponse:
    # Before the transaction: the check may wait on DNS.
    warnings = check_source(body.source, cfg)
    with db.begin() as conn:
        metric = MetricStore(conn, who.org_id).create(body.model_dump(exclude_unset=True))
    return respond(with_warnings(metric.public(), warnings), 201)


@router.get("/{id}", response_model=MetricOut, summary="Show a metric")
def get_metric(who: CallerDep, db: DbDep, ref: MetricRef) -> JSONResponse:
    with db.connect() as conn:
        return respond(MetricStore(conn, who.org_id).get(ref).public())


@router.patch(
    "/{id}",
    response_model=MetricOut,
    responses={**CONFLICT, **FORBIDDEN},
    summary="Change a metric",
    description="Only the fields given change. Header values shown as ***redacted*** may "
    "be sent back as they are: the stored values are kept.",
)
def patch_metric(
    who: MetricEditor, db: DbDep, cfg: SettingsDep, ref: MetricRef, body: MetricPatch
) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True)
    warnings = check_source(changes["source"], cfg) if changes.get("source") else []
    with db.begin() as conn:
        metric = update_metric(conn, who.org_id, ref, changes)
    return respond(with_warnings(metric.public(), warnings))


@router.delete(
    "/{id}",
    response_model=MetricDeleted,
    responses=FORBIDDEN,
    summary="Delete a metric, its executions and alerts",
)
def delete_metric(who: MetricEditor, db: DbDep, ref: MetricRef) -> JSONResponse:
    with db.begin() as conn:
        gone = MetricStore(conn, who.org_id).delete(ref)
    return respond({"deleted": gone.public()})


@router.post(
    "/{id}/run",
    response_model=RunReportOut,
    responses=FORBIDDEN,
    summary="Run the metric now, evaluate its alerts, deliver",
    description="Answers like `tocsin metric run --json`, after the first attempt at each "
    "delivery; what failed stays pending for the runner. Push metrics take values "
    "through `/values` instead.",
)
async def run_metric(
    who: MetricEditor, db: DbDep, cfg: SettingsDep, http: HttpDep, ref: MetricRef
) -> JSONResponse:
    try:
        report = await run_now(db, who.org_id, ref, settings=cfg, http=http)
    except NeedsValue:
        raise InvalidInput(
            "id", 'a push metric takes values: POST /metrics/{id}/values {"value": 6}'
        ) from None
    return respond(report.public())


@router.post(
    "/{id}/values",
    response_model=RunReportOut,
    responses=FORBIDDEN,
    summary="Record a value, evaluate the metric's alerts, deliver",
    description="Answers like `tocsin metric run --value V --json`.",
)
async def push_value(
    who: MetricEditor, db: DbDep, cfg: SettingsDep, http: HttpDep, ref: MetricRef, body: ValuesIn
) -> JSONResponse:
    report = await run_now(
        db, who.org_id, ref, settings=cfg, http=http, value=body.result(), has_value=True
    )
    return respond(report.public())


@router.get(
    "/{id}/executions", response_model=ExecutionPage, summary="The metric's runs, newest first"
)
def list_executions(
    who: CallerDep, db: DbDep, ref: MetricRef, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    me = metric_executions
    with db.connect() as conn:
        metric = MetricStore(conn, who.org_id).get(ref)
        query = select(me).where(me.c.org_id == who.org_id, me.c.metric_id == metric.id)
        keys = [SortKey(me.c.started_at, "time", descending=True), SortKey(me.c.id, "uuid")]
        rows, nxt = page(conn, query, keys, limit=limit, cursor=cursor)
    items = [row_to_execution(r).public() for r in rows]
    return respond({"items": items, "next_cursor": nxt})


def update_metric(conn: Connection, org_id: uuid.UUID, ref: str, changes: dict[str, Any]) -> Metric:
    """A partial update; header values sent back redacted keep the stored ones."""
    store = MetricStore(conn, org_id)
    if "source" in changes:
        changes["source"] = restore_source(changes["source"], store.get(ref).source)
    return store.update(ref, changes)
