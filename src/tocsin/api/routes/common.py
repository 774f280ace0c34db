"""What every route shares: the caller's org, the app's services, paging, secrets."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, Connection, Row, Select, and_, or_
from starlette.concurrency import run_in_threadpool

from tocsin.alerts.actions import REDACTED, redact_action
from tocsin.api.auth import ApiKey, KeyCache, authenticate, hash_key, needs_touch, touch_key
from tocsin.api.routes.responses import ErrorOut, ValidationErrorOut
from tocsin.clock import utcnow
from tocsin.db.database import Database
from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.roles import Role
from tocsin.settings import Settings

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="tsn_<prefix>_<secret>",
    description="An API key from `tocsin apikey create`; it acts within one organisation.",
)

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, unknown or revoked API key."},
    404: {"model": ErrorOut, "description": "No such object in the key's organisation."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {
        "model": ValidationErrorOut,
        "description": "Bad input: each field and what was expected.",
    },
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorOut, "description": "The key's role is too small for this."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The name is already taken in the organisation."}
}


@dataclass(frozen=True)
class Caller:
    key_id: uuid.UUID
    org_id: uuid.UUID
    role: Role


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise HTTPException(
            401, "missing API key: send Authorization: Bearer <key>", headers=UNAUTHORIZED
        )
    db: Database = request.app.state.db
    cache: KeyCache = request.app.state.key_cache
    presented = credentials.credentials
    digest = hash_key(presented.strip())
    # A key seen within the last second needs no database read, nor the worker thread
    # that a read would take (auth.KEY_CACHE_SECONDS says how revocation stays prompt).
    key = cache.get(digest)
    if key is None:
        stamp = cache.stamp()
        key = await run_in_threadpool(_authenticate, db, presented)
        if key is None:
            raise HTTPException(401, "invalid or revoked API key", headers=UNAUTHORIZED)
        cache.put(digest, key, stamp)
    if needs_touch(key):
        stamp = cache.stamp()
        await run_in_threadpool(_touch, db, key.id)
        cache.put(digest, key.model_copy(update={"last_used_at": utcnow()}), stamp)
    return Caller(key.id, key.org_id, key.role)


def _authenticate(db: Database, presented: str) -> ApiKey | None:
    # Read-only on the hot path: most requests need no write to authenticate.
    with db.connect() as conn:
        return authenticate(conn, presented, touch=False)


def _touch(db: Database, key_id: uuid.UUID) -> None:
    with db.begin() as conn:
        touch_key(conn, key_id)


CallerDep = Annotated[Caller, Depends(caller)]


_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant: Any) -> set[str]:
    names = {str(p.alias) for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def refuse_unknown_query(request: Request) -> None:
    """A misspelt query parameter (``?limt=5``) is refused, as unknown body fields are,
    rather than silently ignored."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names = frozenset(_query_names(dependant))
        _QUERY_NAMES[id(route)] = names
    unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in names]
    if unknown:
        expected = ", ".join(sorted(names)) or "none"
        message = f"unknown query parameter; expected {expected}"
        raise InvalidInput(unknown[0], message, more=[(k, message) for k in unknown[1:]])


# Dependencies that only read app state are ``async``: FastAPI runs plain ``def`` ones in a
# worker thread, and a hop per dependency per request costs more than the work.
async def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


async def http_client(request: Request) -> HttpClient:
    client: HttpClient | None = getattr(request.app.state, "http", None)
    if client is None:
        raise RuntimeError("the app's lifespan has not started: no HTTP client")
    return client


def with_warnings(data: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """An answer with what was saved but may fail later (``warnings``, only when any)."""
    return data | {"warnings": warnings} if warnings else data


def respond(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code)


# Paging -----------------------------------------------------------------------

KeyKind = Literal["str", "uuid", "time"]


@dataclass(frozen=True)
class SortKey:
    column: ColumnElement[Any]
    kind: KeyKind
    descending: bool = False


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, keys: list[SortKey]) -> list[Any]:
    bad = InvalidInput("cursor", "expected the next_cursor of a previous page of this list")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(raw, list) or len(raw) != len(keys):
        raise bad
    out: list[Any] = []
    for key, value in zip(keys, raw, strict=True):
        if not isinstance(value, str):
            raise bad
        try:
            if key.kind == "uuid":
                out.append(uuid.UUID(value))
            elif key.kind == "time":
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise bad
                out.append(moment)
            else:
                out.append(value)
        except ValueError:
            raise bad from None
    return out


def _after(keys: list[SortKey], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in the sort order (keyset pagination: stable under
    inserts, and no OFFSET scan on deep pages)."""
    clauses = []
    for i, key in enumerate(keys):
        same = [keys[j].column == values[j] for j in range(i)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        clauses.append(and_(*same, beyond))
    return or_(*clauses)


def page(
    conn: Connection,
    query: Select[Any],
    keys: list[SortKey],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    if cursor:
        query = query.where(_after(keys, _decode(cursor, keys)))
    order = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    rows = list(conn.execute(query.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]._mapping
    return rows, _encode([last[k.column] for k in keys])


# Secrets sent back as shown ---------------------------------------------------


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and (REDACTED in value or value.endswith("/***"))


def _leftover(value: Any, field: str) -> str | None:
    if _placeholder(value):
        return field
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _leftover(v, f"{field}.{k}")
            if found:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            found = _leftover(v, f"{field}[{i}]")
            if found:
                return found
    return None


def refuse_placeholders(value: Any, field: str) -> None:
    """A placeholder that stands for no stored secret would be saved as the secret."""
    found = _leftover(value, field)
    if found is not None:
        raise InvalidInput(
            found,
            f"{REDACTED} stands for the stored secret, and there is none here to keep; "
            "send the real value",
        )


def restore_action(new: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """``new`` with every value that is the redacted form of ``stored``'s replaced by the
    stored secret, so a client can send back what it read."""
    out = dict(new)
    if new.get("type") != stored.get("type"):
        return out
    shown = redact_action(stored)
    for key, value in new.items():
        if key not in stored or key == "type":
            continue
        kept, display = stored[key], shown.get(key)
        if isinstance(value, Mapping) and isinstance(kept, Mapping):
            out[key] = {k: kept[k] if v == REDACTED and k in kept else v for k, v in value.items()}
        elif value == display and value != kept:
            out[key] = kept
    return out


def restore_action_config(new: Any, stored: Any) -> Any:
    stored_list = [stored] if isinstance(stored, Mapping) else list(stored)
    new_list = [new] if isinstance(new, Mapping) else new
    if not isinstance(new_list, list):
        return new
    restored = []
    for index, action in enumerate(new_list):
        if not isinstance(action, Mapping):
            restored.append(action)
            continue
        # Same position first; a reordered list still finds its action by type.
        candidates = stored_list[index : index + 1] + stored_list
        for candidate in candidates:
            if isinstance(candidate, Mapping) and candidate.get("type") == action.get("type"):
                action = restore_action(action, candidate)
                if _leftover(action, "") is None:
                    break
        restored.append(action)
    result = restored[0] if isinstance(new, Mapping) else restored
    refuse_placeholders(result, "action_config")
    return result


def restore_source(new: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(new)
    headers, kept = new.get("headers"), stored.get("headers")
    if isinstance(headers, Mapping) and isinstance(kept, Mapping):
        out["headers"] = {
            k: kept[k] if v == REDACTED and k in kept else v for k, v in headers.items()
        }
    refuse_placeholders(out, "source")
    return out
