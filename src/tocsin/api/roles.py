"""Roles on the API's routes: the FastAPI dependencies that refuse a key whose role is
too small (403), and the vocabulary of :mod:`tocsin.roles` for the routes to name.

A route on one object names how to find it (``owns``): a key refused by role first
looks the path's ID up in its own org, so that another org's object stays a 404 for
every role, as it is for reads, and a 403 never tells a viewer that an ID exists
elsewhere. The lookup costs a read only on the refused path.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from tocsin.api.routes.common import Caller, CallerDep
from tocsin.db.database import Database
from tocsin.errors import RoleRefused
from tocsin.roles import ROLES, Role, check_role, role_allows

# Finds the object ``ref`` in ``org_id`` or raises NotFound.
Owner = Callable[[Connection, uuid.UUID, str], object]

__all__ = [
    "ROLES",
    "Admin",
    "Editor",
    "Owner",
    "Role",
    "check_role",
    "require_role",
    "role_allows",
]


def _look_up(db: Database, owns: Owner, org_id: uuid.UUID, ref: str) -> None:
    with db.connect() as conn:
        owns(conn, org_id, ref)


def require_role(
    need: Role, *, owns: Owner | None = None, param: str = "id"
) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the caller when its key's role allows ``need``; otherwise a
    403, or the 404 of ``owns`` when the path's ``param`` names no object of its org."""

    async def dependency(request: Request, who: CallerDep) -> Caller:
        if role_allows(who.role, need):
            return who
        ref = request.path_params.get(param)
        if owns is not None and isinstance(ref, str):
            db: Database = request.app.state.db
            await run_in_threadpool(_look_up, db, owns, who.org_id, ref)
        raise RoleRefused(need, who.role)

    return dependency


Editor = Annotated[Caller, Depends(require_role("editor"))]
Admin = Annotated[Caller, Depends(require_role("admin"))]
