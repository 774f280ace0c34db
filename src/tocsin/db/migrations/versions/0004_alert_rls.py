"""Row Level Security on the alert tables (PostgreSQL only).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from tocsin.db import rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("alerts", "alert_history", "notification_deliveries")


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        for statement in rls.enable_statements(table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        for statement in rls.disable_statements(table):
            op.execute(statement)
