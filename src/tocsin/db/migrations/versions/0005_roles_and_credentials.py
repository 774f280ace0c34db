"""Roles on API keys, and the org-scoped credentials table.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db import rls
from tocsin.db.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every key made before roles could do everything: it stays able to (admin). Keys
    # made from now on default to editor.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=True))
    op.execute("UPDATE api_keys SET role = 'admin'")
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column(
            "role",
            existing_type=sa.String(length=16),
            nullable=False,
            server_default="editor",
        )

    op.create_table(
        "credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value_ciphertext", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_credentials_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_credentials_org_id_name")),
    )
    if op.get_context().dialect.name == "postgresql":
        for statement in rls.enable_statements("credentials"):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("credentials")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("role")
