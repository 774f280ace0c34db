"""Applying the Alembic tree, and rendering it as SQL for Supabase."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    if engine.dialect.name == "sqlite":
        # Old page versions (secrets before 0006 sealed them) must not linger in the WAL.
        # Outside any transaction (the engine begins one on every execute).
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def ensure_schema(engine: Engine) -> None:
    """Bring the database to head if it is behind (first use, or after an upgrade)."""
    if current_revision(engine) != head_revision():
        upgrade(engine)


def offline_sql(start: str | None, end: str) -> str:
    """PostgreSQL DDL for the revisions after ``start`` up to ``end``."""
    buf = io.StringIO()
    cfg = alembic_config("postgresql+psycopg://supabase/postgres")
    cfg.output_buffer = buf
    command.upgrade(cfg, f"{start}:{end}" if start else end, sql=True)
    return buf.getvalue()
