"""Row Level Security on the core tables (PostgreSQL only).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from tocsin.db import rls

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = {
    "orgs": "id",
    "org_members": "org_id",
    "api_keys": "org_id",
    "metrics": "org_id",
    "metric_executions": "org_id",
}


def upgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(rls.AUTH_STUB)
    op.execute(rls.USER_ORGS_FUNCTION)
    for table, column in TABLES.items():
        for statement in rls.enable_statements(table, column):
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    for table in TABLES:
        for statement in rls.disable_statements(table):
            op.execute(statement)
    op.execute("DROP FUNCTION IF EXISTS tocsin_user_orgs()")
