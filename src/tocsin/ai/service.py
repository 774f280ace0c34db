"""``chat``: what the CLI and ``POST /api/v1/chat`` call. Plans, and saves only on
confirmation.

The two steps are also separate (:func:`propose`, :func:`commit`) so an interactive
caller can show the plan, ask, and save that very plan, without asking the model again
(which might answer differently the second time).
"""

from __future__ import annotations

import uuid
from typing import Any

from tocsin.ai.planner import Plan, plan
from tocsin.ai.settings import PlannerSettings
from tocsin.alerts.destinations import check_actions
from tocsin.alerts.store import AlertStore
from tocsin.db.database import Database
from tocsin.errors import InvalidInput
from tocsin.settings import load_settings


def propose(
    db: Database,
    org_id: uuid.UUID,
    message: str,
    *,
    settings: PlannerSettings | None = None,
) -> Plan:
    return plan(message, org_id, db=db, settings=settings)


def can_commit(result: Plan) -> bool:
    return result.question is None and (result.draft is not None or result.mute is not None)


def commit(db: Database, org_id: uuid.UUID, result: Plan) -> dict[str, Any]:
    """Apply a confirmed plan: create the drafted alert, or apply the proposed mute.

    Returns ``{"saved": alert}`` or ``{"muted": alert}``; the store validates again, so a
    name taken meanwhile is a Conflict, not a duplicate.
    """
    with db.begin() as conn:
        store = AlertStore(conn, org_id)
        if result.draft is not None and result.question is None:
            check_actions(result.draft.action_config, load_settings())
            return {"saved": store.create_alert(result.draft).public()}
        if result.mute is not None and result.question is None:
            muted = store.mute(result.mute.alert.id, result.mute.until)
            return {"muted": muted.public()}
    return {}


def respond(result: Plan, *, dry_run: bool, applied: dict[str, Any]) -> dict[str, Any]:
    """The plan in the ``--json`` shape, with what was applied."""
    out = result.public()
    if result.draft is not None and result.question is None:
        # What would be saved but fail later is said before anyone confirms.
        try:
            warnings = check_actions(result.draft.action_config, load_settings())
        except InvalidInput as exc:
            warnings = [f"{exc}: this action would be refused when saved"]
        if warnings:
            out["warnings"] = warnings
            notes = [f"note: {w}" for w in warnings]
            out["summary"] = "; ".join(p for p in [out.get("summary"), *notes] if p)
    out["dry_run_only"] = dry_run
    out["saved"] = applied.get("saved")
    out["muted"] = applied.get("muted")
    out["confirm_needed"] = can_commit(result) and not applied
    return out


def chat(
    db: Database,
    org_id: uuid.UUID,
    message: str,
    *,
    confirm: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Plan ``message``; save the draft (or apply the mute) only when ``confirm`` and not
    ``dry_run``. Raises InvalidInput for an empty message or a bad TOCSIN_LLM_* setting."""
    result = propose(db, org_id, message)
    applied = commit(db, org_id, result) if confirm and not dry_run and can_commit(result) else {}
    return respond(result, dry_run=dry_run, applied=applied)
