"""Reminders apart from the cooldown (docs/alerts.md, "Reminders and cooldown").

* ``alerts.repeat_every_seconds``: how often a series that stays triggered is reminded
  of (null: never, the default of a new alert). Until now the cooldown did both jobs, so
  every existing alert gets its cooldown as its repeat interval: it reminds as it did.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both engines, never a batch: on SQLite a batch may rebuild the
    # table, and dropping the old ``alerts`` cascades to every alert's history, series
    # and deliveries.
    op.add_column("alerts", sa.Column("repeat_every_seconds", sa.Integer(), nullable=True))
    op.execute("UPDATE alerts SET repeat_every_seconds = cooldown_seconds")


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade), as PostgreSQL does.
    op.execute("ALTER TABLE alerts DROP COLUMN repeat_every_seconds")
