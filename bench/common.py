"""Helpers the benchmark scripts share: throw-away databases on both engines."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tocsin.db.database import Database
from tocsin.db.engine import normalize_url

PG_URL = os.environ.get("TOCSIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# PostgreSQL needs a key for the secrets it stores; a benchmark's throw-away databases
# get a throw-away one (inherited by the worker processes a benchmark starts).
os.environ.setdefault("TOCSIN_ENCRYPTION_KEY", Fernet.generate_key().decode())


@contextmanager
def sqlite_database() -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.ensure_schema()
        yield db
        db.dispose()


@contextmanager
def postgres_database() -> Iterator[Database]:
    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"tocsin_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(False)
    db = Database(url)
    try:
        db.ensure_schema()
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def databases(which: list[str]) -> Iterator[tuple[str, object]]:
    for kind in which:
        yield kind, sqlite_database() if kind == "sqlite" else postgres_database()
