"""``/api/v1/chat``: the planner turns a sentence into an alert."""

from __future__ import annotations

import importlib
import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tocsin.api.routes.common import FORBIDDEN, RESPONSES, CallerDep, respond
from tocsin.api.routes.examples import CHAT_EXAMPLE
from tocsin.api.routes.metrics import DbDep
from tocsin.api.routes.responses import ErrorOut, answer_example
from tocsin.api.schemas import ChatIn
from tocsin.roles import check_role

router = APIRouter(tags=["chat"], responses=RESPONSES)


def _planner() -> Any:
    # Imported per call: the planner is optional, and the API must start without it.
    try:
        service = importlib.import_module("tocsin.ai.service")
    except ImportError:
        return None
    return getattr(service, "chat", None)


PlannerDep = Annotated[Any, Depends(_planner)]


@router.post(
    "/chat",
    response_model=dict[str, Any],
    summary="Plan an alert from a sentence; create it with confirm=true",
    responses={
        **FORBIDDEN,
        **answer_example(CHAT_EXAMPLE),
        503: {"model": ErrorOut, "description": "The chat planner is not installed."},
    },
)
async def chat(who: CallerDep, db: DbDep, body: ChatIn, planner: PlannerDep) -> JSONResponse:
    if body.confirm and not body.dry_run:
        # Planning only reads; saving what was planned is an edit.
        check_role(who.role, "editor")
    if planner is None:
        raise HTTPException(503, "the chat planner is not available on this server")
    if inspect.iscoroutinefunction(planner):
        result = await planner(
            db, who.org_id, body.message, confirm=body.confirm, dry_run=body.dry_run
        )
    else:
        result = await run_in_threadpool(
            planner, db, who.org_id, body.message, confirm=body.confirm, dry_run=body.dry_run
        )
    return respond(result)
