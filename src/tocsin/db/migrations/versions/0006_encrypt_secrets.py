"""Seal the secrets already stored in clear: action secrets, delivery snapshots, headers.

Everything at revision 0005 is plain text (nothing was sealed before this revision), so
every secret field is sealed whatever it looks like. The keys come from
TOCSIN_ENCRYPTION_KEY or, for a SQLite file, the key file beside it (tocsin.crypto).

Offline (``tocsin db sql``, for Supabase) there is no key and no data to read: the SQL
says so, and ``tocsin db upgrade`` does the sealing.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from tocsin.crypto.keyring import Keyring, keyring_for_engine
from tocsin.db.migrations.secrets_0006 import open_action, open_header, seal_action, seal_source
from tocsin.db.types import JSONType

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PAGE = 1000
Rewrite = Callable[[Any, Keyring], Any]


def _config(change: Callable[[dict[str, Any], Keyring], dict[str, Any]]) -> Rewrite:
    def rewrite(config: Any, ring: Keyring) -> Any:
        if isinstance(config, dict):
            return change(config, ring)
        if isinstance(config, list):
            return [change(a, ring) if isinstance(a, dict) else a for a in config]
        return config

    return rewrite


def _open_source(source: Any, ring: Keyring) -> Any:
    headers = source.get("headers") if isinstance(source, dict) else None
    if not isinstance(headers, dict):
        return source
    return source | {"headers": {k: open_header(k, v, ring) for k, v in headers.items()}}


def _seal_source(source: Any, ring: Keyring) -> Any:
    return seal_source(source, ring) if isinstance(source, dict) else source


def _rewrite(table: str, column: str, rewrite: Rewrite) -> None:
    conn = op.get_bind()
    ring = keyring_for_engine(conn.engine)
    t = sa.table(table, sa.column("id", sa.Uuid()), sa.column(column, JSONType))
    change = (
        sa.update(t).where(t.c.id == sa.bindparam("b_id")).values({column: sa.bindparam("b_new")})
    )
    last = None
    # In pages by id: the deliveries table can hold millions of rows.
    while True:
        query = sa.select(t.c.id, t.c[column]).order_by(t.c.id).limit(_PAGE)
        if last is not None:
            query = query.where(t.c.id > last)
        rows = conn.execute(query).all()
        if not rows:
            return
        changed = []
        for row_id, value in rows:
            new = rewrite(value, ring)
            if new != value:
                changed.append({"b_id": row_id, "b_new": new})
        if changed:
            conn.execute(change, changed)
        last = rows[-1][0]


def upgrade() -> None:
    if context.is_offline_mode():
        op.execute(
            "-- Secrets in alerts.action_config, notification_deliveries.action and "
            "metrics.source headers are encrypted by `tocsin db upgrade` (it needs "
            "TOCSIN_ENCRYPTION_KEY); this file changes no schema"
        )
        return
    # Fails before anything changes when no key is configured (PostgreSQL).
    keyring_for_engine(op.get_bind().engine)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Overwrite the old cells rather than free them: the clear text must not stay
        # in the file's free pages (the WAL is checkpointed after the upgrade).
        op.execute("PRAGMA secure_delete = ON")
    _rewrite("alerts", "action_config", _config(seal_action))
    _rewrite("notification_deliveries", "action", _config(seal_action))
    _rewrite("metrics", "source", _seal_source)
    if sqlite:
        op.execute("PRAGMA secure_delete = OFF")


def downgrade() -> None:
    # The code of revision 0005 reads secrets in clear, so they are opened back.
    if context.is_offline_mode():
        return
    _rewrite("alerts", "action_config", _config(open_action))
    _rewrite("notification_deliveries", "action", _config(open_action))
    _rewrite("metrics", "source", _open_source)
