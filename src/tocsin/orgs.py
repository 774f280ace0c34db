"""Organisations: every row of Tocsin belongs to one."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from tocsin.clock import utcnow
from tocsin.db.schema import orgs
from tocsin.errors import InvalidInput, NotFound

MAX_ORG_NAME = 100


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_ORG_NAME:
        raise InvalidInput("org", f"expected a name of 1 to {MAX_ORG_NAME} characters")
    return name


def find_org(conn: Connection, name: str) -> uuid.UUID | None:
    return conn.execute(select(orgs.c.id).where(orgs.c.name == _check_name(name))).scalar()


def get_org(conn: Connection, name: str) -> uuid.UUID:
    org_id = find_org(conn, name)
    if org_id is None:
        raise NotFound("org", name)
    return org_id


def get_or_create_org(conn: Connection, name: str) -> uuid.UUID:
    """The CLI, an operator's tool, creates an org on first use."""
    name = _check_name(name)
    org_id = find_org(conn, name)
    if org_id is not None:
        return org_id
    new_id = uuid.uuid4()
    try:
        with conn.begin_nested():
            conn.execute(insert(orgs).values(id=new_id, name=name, created_at=utcnow()))
    except IntegrityError:
        # Another process created it between our read and our insert.
        return get_org(conn, name)
    return new_id


def org_name(conn: Connection, org_id: uuid.UUID) -> str:
    name = conn.execute(select(orgs.c.name).where(orgs.c.id == org_id)).scalar()
    if name is None:
        raise NotFound("org", str(org_id))
    return str(name)
