"""The chat box on every page: the planner's draft with its summary, dry run and
backtest, then Confirm or Cancel.

Confirm saves the very plan that was shown (kept server-side under a one-time token),
not a fresh answer from the model, which could differ; the draft never travels through
the browser, so secrets it holds (a PagerDuty key from settings) stay on the server.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tocsin.ai.planner import Plan
from tocsin.ai.service import can_commit, commit, propose
from tocsin.errors import Conflict, InvalidInput
from tocsin.web.deps import DbDep, FormDep, ViewerDep
from tocsin.web.render import render

router = APIRouter()

PLAN_TTL_SECONDS = 30 * 60
MAX_PLANS = 1000


class PendingPlans:
    """Plans awaiting Confirm, per org, for half an hour."""

    def __init__(self) -> None:
        self._plans: dict[str, tuple[uuid.UUID, Plan, float]] = {}
        self._lock = threading.Lock()

    def put(self, org_id: uuid.UUID, plan: Plan) -> str:
        token = secrets.token_urlsafe(16)
        now = time.monotonic()
        with self._lock:
            for key in [k for k, (_, _, t) in self._plans.items() if now - t > PLAN_TTL_SECONDS]:
                del self._plans[key]
            while len(self._plans) >= MAX_PLANS:
                del self._plans[next(iter(self._plans))]
            self._plans[token] = (org_id, plan, now)
        return token

    def take(self, org_id: uuid.UUID, token: str) -> Plan | None:
        with self._lock:
            found = self._plans.get(token)
            if found is None or found[0] != org_id:
                return None
            del self._plans[token]
        if time.monotonic() - found[2] > PLAN_TTL_SECONDS:
            return None
        return found[1]


PLANS = PendingPlans()


@router.post("/chat", response_class=HTMLResponse)
def chat(request: Request, who: ViewerDep, db: DbDep, form: FormDep) -> HTMLResponse:
    message = str(form.get("message", "")).strip()[:2000]
    try:
        plan = propose(db, who.org_id, message)
    except InvalidInput as exc:
        return render(request, "_chat.html", {"error": exc.message, "message": message})
    token = PLANS.put(who.org_id, plan) if can_commit(plan) else None
    context = {"plan": plan, "public": plan.public(), "token": token, "message": message}
    return render(request, "_chat.html", context)


@router.post("/chat/confirm", response_class=HTMLResponse)
def confirm(request: Request, who: ViewerDep, db: DbDep, form: FormDep) -> HTMLResponse:
    plan = PLANS.take(who.org_id, str(form.get("token", "")))
    if plan is None:
        error = "That draft has expired: ask again."
        return render(request, "_chat.html", {"error": error, "message": ""})
    try:
        applied = commit(db, who.org_id, plan)
    except (Conflict, InvalidInput) as exc:
        return render(request, "_chat.html", {"error": str(exc), "message": ""})
    return render(request, "_chat.html", {"applied": applied, "message": ""})


@router.post("/chat/cancel", response_class=HTMLResponse)
def cancel(request: Request, who: ViewerDep, form: FormDep) -> HTMLResponse:
    PLANS.take(who.org_id, str(form.get("token", "")))
    return render(request, "_chat.html", {"cancelled": True, "message": ""})
