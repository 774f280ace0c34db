"""``/api/v1/credentials``: the org's named secrets. Values go in and never come out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from tocsin.api.roles import Admin, require_role
from tocsin.api.routes.common import FORBIDDEN, RESPONSES, Caller, respond
from tocsin.api.routes.examples import CREDENTIAL_EXAMPLE
from tocsin.api.routes.metrics import DbDep
from tocsin.api.routes.responses import Out
from tocsin.credentials import CredentialStore
from tocsin.credentials.store import MAX_VALUE_CHARS

# Every route is an admin's: an editor's metrics may name a credential, never read one.
router = APIRouter(
    prefix="/credentials", tags=["credentials"], responses={**RESPONSES, **FORBIDDEN}
)


def _owned(conn: Connection, org_id: uuid.UUID, ref: str) -> object:
    return CredentialStore(conn, org_id).get(ref)


CredentialAdmin = Annotated[Caller, Depends(require_role("admin", owns=_owned, param="name"))]

_NAME = Path(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class CredentialIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "SHOP_DB", "value": "postgresql://reader:…@db.internal/shop"}]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Letters, digits and _; metrics reference it as dsn_credential or "
        "${cred:NAME} in a header.",
    )
    value: str = Field(
        min_length=1,
        max_length=MAX_VALUE_CHARS,
        description="The secret. Stored encrypted; no route ever returns it.",
    )


class CredentialOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [CREDENTIAL_EXAMPLE]})
    name: str
    created_at: str
    updated_at: str


class CredentialPage(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [CREDENTIAL_EXAMPLE]}]})
    items: list[CredentialOut]


class CredentialDeleted(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{"deleted": CREDENTIAL_EXAMPLE}]})
    deleted: CredentialOut


@router.post(
    "",
    response_model=CredentialOut,
    status_code=201,
    responses={200: {"model": CredentialOut, "description": "An existing value was replaced."}},
    summary="Create or replace a credential (admin)",
    description="201 when created, 200 when an existing value was replaced. The answer "
    "never holds the value.",
)
def set_credential(who: Admin, db: DbDep, body: CredentialIn) -> JSONResponse:
    with db.begin() as conn:
        found, created = CredentialStore(conn, who.org_id).save(body.name, body.value)
    return respond(found.public(), 201 if created else 200)


@router.get("", response_model=CredentialPage, summary="List credentials: names only (admin)")
def list_credentials(who: Admin, db: DbDep) -> JSONResponse:
    with db.connect() as conn:
        found = CredentialStore(conn, who.org_id).all()
    return respond({"items": [c.public() for c in found]})


@router.delete("/{name}", response_model=CredentialDeleted, summary="Delete a credential (admin)")
def delete_credential(who: CredentialAdmin, db: DbDep, name: Annotated[str, _NAME]) -> JSONResponse:
    with db.begin() as conn:
        found = CredentialStore(conn, who.org_id).delete(name)
    return respond({"deleted": found.public()})
