"""The chat box on every page: the planner's draft with its summary, dry run and
backtest, then Confirm or Cancel.

Confirm saves the very plan that was shown (kept server-side under a one-time token),
not a fresh answer from the model, which could differ; the draft never travels through
the browser, so secrets it holds (a PagerDuty key from settings) stay on the server.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass

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

_QUOTED = re.compile(r'"([^"]+)"')
_EXAMPLE = re.compile(r'e\.g\. "([^"]+)"')
_WORD = re.compile(r"[\w#@.%-]+")


@dataclass(frozen=True)
class Suggestion:
    label: str
    message: str
    send: bool  # a whole message to send; otherwise an example to adapt first


def _words_for(message: str, candidate: str) -> tuple[int, int] | None:
    """Where the message names the candidate loosely: the longest run of its words that
    are all words of the candidate ("disk" in "mute disk for 1h" for "Disk full")."""
    wanted = {w.lower() for w in _WORD.findall(candidate)}
    best: tuple[int, int] | None = None
    words = list(_WORD.finditer(message))
    for i in range(len(words)):
        j = i
        while j < len(words) and words[j].group().lower() in wanted:
            j += 1
        if j > i and (best is None or words[j - 1].end() - words[i].start() > best[1] - best[0]):
            best = (words[i].start(), words[j - 1].end())
    return best


def suggestions(message: str, question: str | None, candidates: list[str]) -> list[Suggestion]:
    """The planner's candidates as messages to send (the message with the words that
    named nothing it knew replaced by the candidate), then the examples its question
    gives, to adapt."""
    text = question or ""
    lowered = message.lower()
    examples = _EXAMPLE.findall(text)
    quoted = [p for p in _QUOTED.findall(text) if p not in examples]
    phrases = [p for p in quoted if p not in candidates and p.lower() in lowered]
    if not candidates and phrases:
        # "I don't know a metric called "bugs". Your metrics: "A" or "B"": the names it
        # lists are the choices.
        candidates = [p for p in quoted if p.lower() not in lowered]
    out = []
    for name in candidates:
        span: tuple[int, int] | None = None
        if phrases:
            start = lowered.index(phrases[0].lower())
            span = (start, start + len(phrases[0]))
        else:
            span = _words_for(message, name)
        if span is None:
            out.append(Suggestion(name, f"{message} ({name})".strip(), False))
        else:
            out.append(Suggestion(name, message[: span[0]] + name + message[span[1] :], True))
    out += [Suggestion(example, example, False) for example in examples]
    return out


@router.post("/chat", response_class=HTMLResponse)
def chat(request: Request, who: ViewerDep, db: DbDep, form: FormDep) -> HTMLResponse:
    message = str(form.get("message", "")).strip()[:2000]
    try:
        plan = propose(db, who.org_id, message)
    except InvalidInput as exc:
        return render(request, "_chat.html", {"error": exc.message, "message": message})
    token = PLANS.put(who.org_id, plan) if can_commit(plan) else None
    context = {
        "plan": plan,
        "public": plan.public(),
        "token": token,
        "message": message,
        "suggestions": suggestions(message, plan.question, plan.candidates),
    }
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
