"""``/api/v1/deliveries``: the notification outbox, and retrying what failed."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, select

from tocsin.alerts.outbox import DeliveryStore, row_to_delivery
from tocsin.alerts.store import AlertStore
from tocsin.api.roles import require_role
from tocsin.api.routes.common import (
    FORBIDDEN,
    RESPONSES,
    Caller,
    CallerDep,
    SortKey,
    page,
    respond,
)
from tocsin.api.routes.examples import RETRIED_DELIVERY_EXAMPLE
from tocsin.api.routes.metrics import Cursor, DbDep, Limit
from tocsin.api.routes.responses import DeliveryOut, DeliveryPage, answer_example
from tocsin.db.schema import notification_deliveries as nd

router = APIRouter(prefix="/deliveries", tags=["deliveries"], responses=RESPONSES)


def _owned(conn: Connection, org_id: uuid.UUID, ref: str) -> object:
    return DeliveryStore(conn, org_id).get(ref)


DeliveryEditor = Annotated[Caller, Depends(require_role("editor", owns=_owned))]


@router.get("", response_model=DeliveryPage, summary="List deliveries, newest first")
def list_deliveries(
    who: CallerDep,
    db: DbDep,
    status: Annotated[
        Literal["pending", "sent", "failed", "dead"] | None, Query(description="Only this status.")
    ] = None,
    alert_id: Annotated[uuid.UUID | None, Query(description="Only this alert's.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JSONResponse:
    query = select(nd).where(nd.c.org_id == who.org_id)
    if status is not None:
        query = query.where(nd.c.status == status)
    keys = [SortKey(nd.c.created_at, "time", descending=True), SortKey(nd.c.id, "uuid")]
    with db.connect() as conn:
        if alert_id is not None:
            # A filter naming an alert this org does not have is a mistake to report
            # (404, as for every other reference to another org's object), not an
            # empty page that looks like an alert with no deliveries.
            alert = AlertStore(conn, who.org_id).get_alert(alert_id)
            query = query.where(nd.c.alert_id == alert.id)
        rows, nxt = page(conn, query, keys, limit=limit, cursor=cursor)
    items = [row_to_delivery(r).public() for r in rows]
    return respond({"items": items, "next_cursor": nxt})


@router.post(
    "/{id}/retry",
    response_model=DeliveryOut,
    responses={**FORBIDDEN, **answer_example(RETRIED_DELIVERY_EXAMPLE)},
    summary="Make a failed or dead delivery due again",
    description="The runner sends it at its next pass; a sent delivery is refused (422).",
)
def retry_delivery(
    who: DeliveryEditor,
    db: DbDep,
    ref: Annotated[str, Path(alias="id", min_length=1, max_length=100)],
) -> JSONResponse:
    with db.begin() as conn:
        found = DeliveryStore(conn, who.org_id).retry(ref)
    return respond(found.public())
