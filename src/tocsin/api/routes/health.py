"""``/healthz`` and ``/metrics``: Tocsin's own health, outside the versioned API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from starlette.concurrency import run_in_threadpool

from tocsin import telemetry
from tocsin.api.routes.common import RESPONSES
from tocsin.api.routes.examples import PROMETHEUS_EXAMPLE
from tocsin.api.routes.responses import HealthOut
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.db.schema import notification_deliveries as nd

# Unknown query parameters are refused here too.
router = APIRouter(tags=["health"], responses={422: RESPONSES[422]})
logger = logging.getLogger("tocsin.api")


def _database(db: Database) -> dict[str, Any]:
    try:
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
            count, oldest = conn.execute(
                select(func.count(), func.min(nd.c.created_at)).where(nd.c.status == "pending")
            ).one()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        logger.warning("health check: database unreachable: %s", type(exc).__name__)
        return {"ok": False, "error": f"database unreachable ({type(exc).__name__})"}
    age = None
    if oldest is not None:
        # min() keeps the column's type, so this is an aware UTC time on both engines.
        moment = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
        age = max((utcnow() - moment).total_seconds(), 0.0)
    return {"ok": True, "error": None, "pending": int(count), "oldest": age}


def _runner(status: Callable[[], dict[str, Any]] | None) -> dict[str, Any]:
    if status is None:
        return {"alive": None, "detail": "no runner in this process"}
    try:
        return dict(status())
    except Exception as exc:  # noqa: BLE001 - a broken probe means "not alive", not a 500
        return {"alive": False, "detail": f"status probe failed ({type(exc).__name__})"}


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Database reachable, runner alive, pending deliveries",
    responses={503: {"model": HealthOut, "description": "The database is unreachable."}},
)
async def healthz(request: Request) -> JSONResponse:
    db: Database = request.app.state.db
    found = await run_in_threadpool(_database, db)
    runner = _runner(request.app.state.runner_status)
    ok = bool(found["ok"])
    runner_ok = runner.get("alive") is not False
    body = {
        "status": "ok" if ok and runner_ok else ("degraded" if ok else "down"),
        "database": {"ok": ok, "error": found["error"]},
        "runner": runner,
        "deliveries": {
            "pending": found.get("pending"),
            "oldest_pending_age_seconds": found.get("oldest"),
        },
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"example": PROMETHEUS_EXAMPLE}},
            "description": "Prometheus text format.",
        }
    },
)
def prometheus() -> Response:
    return Response(telemetry.render(), media_type=telemetry.CONTENT_TYPE_LATEST)
