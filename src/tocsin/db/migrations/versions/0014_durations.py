"""Durations (docs/alerts.md, "Durations"): ``alerts.for_seconds`` (the condition must
hold this long before firing) and ``alerts.keep_firing_seconds`` (a firing outlasts its
condition this long), 0 for every alert as before; ``breaching_since`` and
``cleared_since`` on ``alert_series`` (and on ``alerts``, the summary): when the current
run of breaches began, and when a triggered series' condition stopped holding.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both engines, never a batch: on SQLite a batch may rebuild the
    # table, and dropping the old ``alerts`` cascades to every alert's history, series
    # and deliveries.
    for column in ("for_seconds", "keep_firing_seconds"):
        op.add_column("alerts", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    for table in ("alerts", "alert_series"):
        for column in ("breaching_since", "cleared_since"):
            op.add_column(table, sa.Column(column, UTCDateTime(), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade), as PostgreSQL does.
    for table in ("alert_series", "alerts"):
        for column in ("cleared_since", "breaching_since"):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    for column in ("keep_firing_seconds", "for_seconds"):
        op.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
