"""When a triggered series resolves (docs/alerts.md, "Recovery"): a recovery condition
(``alerts.recovery_op`` / ``recovery_threshold``, null: the trigger condition no longer
holds, as before), ``alerts.recover_from`` (``run``, as before, or ``episode``), and
``episode_baseline`` on ``alert_series`` (and on ``alerts``, the summary): the value
before the current episode began.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db.types import ExactDecimal

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both engines, never a batch: on SQLite a batch may rebuild the
    # table, and dropping the old ``alerts`` cascades to every alert's history, series
    # and deliveries.
    op.add_column("alerts", sa.Column("recovery_op", sa.String(8), nullable=True))
    op.add_column("alerts", sa.Column("recovery_threshold", ExactDecimal(), nullable=True))
    op.add_column(
        "alerts", sa.Column("recover_from", sa.String(16), nullable=False, server_default="run")
    )
    for table in ("alerts", "alert_series"):
        op.add_column(table, sa.Column("episode_baseline", ExactDecimal(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade), as PostgreSQL does.
    for table in ("alert_series", "alerts"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN episode_baseline")
    for column in ("recover_from", "recovery_threshold", "recovery_op"):
        op.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
