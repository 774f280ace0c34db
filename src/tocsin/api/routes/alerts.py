"""``/api/v1/alerts``: alerts, their history, tests and mutes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sqlalchemy import Connection, select

from tocsin.alerts.decision import State as AlertState
from tocsin.alerts.destinations import check_actions
from tocsin.alerts.model import HistoryRow
from tocsin.alerts.store import AlertStore, row_to_alert
from tocsin.api.roles import Editor, require_role
from tocsin.api.routes.common import (
    CONFLICT,
    FORBIDDEN,
    RESPONSES,
    Caller,
    CallerDep,
    SortKey,
    page,
    refuse_placeholders,
    respond,
    restore_action_config,
    with_warnings,
)
from tocsin.api.routes.examples import DELIVERY_EXAMPLE, MUTED_ALERT_EXAMPLE
from tocsin.api.routes.metrics import Cursor, DbDep, HttpDep, Limit, SettingsDep
from tocsin.api.routes.responses import (
    AlertDeleted,
    AlertOut,
    AlertPage,
    DeliveryOut,
    HistoryPage,
    SeriesPage,
    answer_example,
)
from tocsin.api.schemas import AlertCreate, AlertPatch, MuteIn
from tocsin.clock import utcnow
from tocsin.db.schema import alert_history, alerts
from tocsin.errors import InvalidInput
from tocsin.execution.runs import send_test
from tocsin.metrics.store import MetricStore

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=RESPONSES)

AlertRef = Annotated[
    str,
    Path(
        alias="id",
        min_length=1,
        max_length=200,
        description="Alert ID or name.",
        examples=["Notify if Issues > 5"],
    ),
]


def _owned(conn: Connection, org_id: uuid.UUID, ref: str) -> object:
    return AlertStore(conn, org_id).get_alert(ref)


AlertEditor = Annotated[Caller, Depends(require_role("editor", owns=_owned))]


@router.get("", response_model=AlertPage, summary="List alerts, by name")
def list_alerts(
    who: CallerDep,
    db: DbDep,
    metric_id: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Only this metric's (ID or name)."),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JSONResponse:
    query = select(alerts).where(alerts.c.org_id == who.org_id)
    keys = [SortKey(alerts.c.name, "str"), SortKey(alerts.c.id, "uuid")]
    with db.connect() as conn:
        if metric_id is not None:
            metric = MetricStore(conn, who.org_id).get(metric_id)
            query = query.where(alerts.c.metric_id == metric.id)
        rows, nxt = page(conn, query, keys, limit=limit, cursor=cursor)
        found = AlertStore(conn, who.org_id).with_series([row_to_alert(r) for r in rows])
    return respond({"items": [a.public() for a in found], "next_cursor": nxt})


@router.post(
    "",
    response_model=AlertOut,
    status_code=201,
    responses={**CONFLICT, **FORBIDDEN},
    summary="Create an alert",
)
def create_alert(who: Editor, db: DbDep, cfg: SettingsDep, body: AlertCreate) -> JSONResponse:
    definition = body.model_dump(exclude_unset=True)
    # Nothing is stored yet, so a placeholder here stands for no secret at all.
    refuse_placeholders(definition["action_config"], "action_config")
    # Before the transaction: the check may wait on DNS.
    warnings = check_actions(definition["action_config"], cfg)
    with db.begin() as conn:
        metric = MetricStore(conn, who.org_id).find(body.metric_id)
        if metric is None:
            # A field of the body, not the URL: a 422 naming it (another org's metric
            # is no different from none at all).
            raise InvalidInput("metric_id", "no metric with this id or name in your organisation")
        definition["metric_id"] = metric.id
        alert = AlertStore(conn, who.org_id).create_alert(definition)
    return respond(with_warnings(alert.public(), warnings), 201)


@router.get("/{id}", response_model=AlertOut, summary="Show an alert")
def get_alert(who: CallerDep, db: DbDep, ref: AlertRef) -> JSONResponse:
    with db.connect() as conn:
        store = AlertStore(conn, who.org_id)
        (alert,) = store.with_series([store.get_alert(ref)])
        return respond(alert.public())


@router.get(
    "/{id}/series",
    response_model=SeriesPage,
    summary="The series the alert watches, worst state first",
)
def alert_series_page(
    who: CallerDep,
    db: DbDep,
    ref: AlertRef,
    state: Annotated[AlertState | None, Query(description="Only series in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> JSONResponse:
    with db.connect() as conn:
        store = AlertStore(conn, who.org_id)
        found = store.series(store.get_alert(ref).id, state=state, limit=limit)
    return respond({"items": [s.public() for s in found], "next_cursor": None})


@router.patch(
    "/{id}",
    response_model=AlertOut,
    responses={**CONFLICT, **FORBIDDEN},
    summary="Change an alert",
    description="Only the fields given change. Secrets in `action_config` shown as "
    "***redacted*** may be sent back as they are: the stored secrets are kept.",
)
def patch_alert(
    who: AlertEditor, db: DbDep, cfg: SettingsDep, ref: AlertRef, body: AlertPatch
) -> JSONResponse:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    warnings = check_actions(changes["action_config"], cfg) if "action_config" in changes else []
    with db.begin() as conn:
        store = AlertStore(conn, who.org_id)
        current = store.get_alert(ref)
        if "metric_id" in changes:
            changes["metric_id"] = MetricStore(conn, who.org_id).get(changes["metric_id"]).id
        if "action_config" in changes:
            changes["action_config"] = restore_action_config(
                changes["action_config"], current.action_config
            )
        (alert,) = store.with_series([store.update_alert(current.id, changes)])
    return respond(with_warnings(alert.public(), warnings))


@router.delete(
    "/{id}",
    response_model=AlertDeleted,
    responses=FORBIDDEN,
    summary="Delete an alert and its history",
)
def delete_alert(who: AlertEditor, db: DbDep, ref: AlertRef) -> JSONResponse:
    with db.begin() as conn:
        gone = AlertStore(conn, who.org_id).delete_alert(ref)
    return respond({"deleted": gone.public()})


@router.get(
    "/{id}/history", response_model=HistoryPage, summary="The alert's evaluations, newest first"
)
def alert_history_page(
    who: CallerDep,
    db: DbDep,
    ref: AlertRef,
    since: Annotated[
        AwareDatetime | None, Query(description="Evaluated at or after this time.")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(description="Evaluated before this time.")] = None,
    series: Annotated[
        uuid.UUID | None, Query(description="Only this series' evaluations (its ID).")
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JSONResponse:
    ah = alert_history
    with db.connect() as conn:
        alert = AlertStore(conn, who.org_id).get_alert(ref)
        query = select(ah).where(ah.c.org_id == who.org_id, ah.c.alert_id == alert.id)
        if series is not None:
            query = query.where(ah.c.series_id == series)
        if since is not None:
            query = query.where(ah.c.evaluated_at >= since)
        if until is not None:
            query = query.where(ah.c.evaluated_at < until)
        keys = [SortKey(ah.c.evaluated_at, "time", descending=True), SortKey(ah.c.id, "uuid")]
        rows, nxt = page(conn, query, keys, limit=limit, cursor=cursor)
    items = [HistoryRow.model_validate(r._asdict()).public() for r in rows]
    return respond({"items": items, "next_cursor": nxt})


@router.post(
    "/{id}/test",
    response_model=list[DeliveryOut],
    responses={
        **FORBIDDEN,
        **answer_example([DELIVERY_EXAMPLE | {"kind": "test", "history_id": None}]),
    },
    summary="Send a test notification through every action",
    description="Answers after the first attempt at each delivery, like `tocsin alert test`.",
)
async def test_alert(
    who: AlertEditor, db: DbDep, cfg: SettingsDep, http: HttpDep, ref: AlertRef
) -> JSONResponse:
    sent = await send_test(db, who.org_id, ref, settings=cfg, http=http)
    return respond([d.public() for d in sent])


@router.post(
    "/{id}/mute",
    response_model=AlertOut,
    responses={**FORBIDDEN, **answer_example(MUTED_ALERT_EXAMPLE)},
    summary="Mute: evaluate and record as usual, send nothing",
    description='Give either `{"for_seconds": 3600}` or `{"until": "2026-01-05T14:00:00Z"}`.',
)
def mute_alert(who: AlertEditor, db: DbDep, ref: AlertRef, body: MuteIn) -> JSONResponse:
    if (body.for_seconds is None) == (body.until is None):
        raise InvalidInput("for_seconds", "give either for_seconds or until, not both or neither")
    now = utcnow()
    until = body.until if body.until is not None else now + timedelta(seconds=body.for_seconds or 0)
    if until <= now:
        raise InvalidInput("until", "expected a time in the future")
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).mute(ref, until)
    return respond(alert.public())


@router.post(
    "/{id}/unmute",
    response_model=AlertOut,
    responses=FORBIDDEN,
    summary="Send notifications again",
)
def unmute_alert(who: AlertEditor, db: DbDep, ref: AlertRef) -> JSONResponse:
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).mute(ref, None)
    return respond(alert.public())
