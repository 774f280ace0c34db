"""``alerts.drop_resolve_when_muted``: a resolve due while an alert is muted is sent unless
the alert says to drop it (false for every alert, old and new).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both engines, not a batch: on SQLite a batch may rebuild the
    # table, and dropping the old ``alerts`` cascades to every alert's history, series
    # and deliveries.
    op.add_column(
        "alerts",
        sa.Column(
            "drop_resolve_when_muted", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade), as PostgreSQL does.
    op.execute("ALTER TABLE alerts DROP COLUMN drop_resolve_when_muted")
