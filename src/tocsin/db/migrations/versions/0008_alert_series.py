"""Series: one state per series an alert watches (``alert_series``), the alert row's state
its summary; history and deliveries name their series.

Every existing alert gets its one series ``{}`` with the alert's state, and its history
and deliveries point at it, so an alert upgraded from before series behaves exactly as it
did. Row Level Security on the new table, as on the other tenant tables.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db import rls
from tocsin.db.types import ExactDecimal, JSONType, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_SERIES_FK = "fk_{table}_series_id_alert_series"


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.create_table(
        "alert_series",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "org_id", sa.Uuid(), sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "alert_id", sa.Uuid(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("series_key", sa.Text(), nullable=False),
        sa.Column("labels", JSONType, nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("consecutive_breaches", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_triggered_at", UTCDateTime()),
        sa.Column("last_evaluated_at", UTCDateTime()),
        sa.Column(
            "episode_notified", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
        sa.Column("missing_runs", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_value", ExactDecimal()),
        sa.Column("last_seen_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_series"),
        sa.UniqueConstraint("alert_id", "series_key", name="uq_alert_series_alert_id_series_key"),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("series_filter", JSONType, nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("resolve_missing_after", sa.Integer(), nullable=False, server_default="2")
        )
    for table in ("alert_history", "notification_deliveries"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("series_id", sa.Uuid()))
            batch.add_column(sa.Column("labels", JSONType))
            batch.create_foreign_key(
                _SERIES_FK.format(table=table),
                "alert_series",
                ["series_id"],
                ["id"],
                ondelete="SET NULL",
            )
    op.create_index(
        "ix_alert_history_series_evaluated", "alert_history", ["series_id", "evaluated_at"]
    )

    # Each alert's one series, with its state; its history and deliveries point at it.
    new_id = "gen_random_uuid()" if dialect == "postgresql" else "lower(hex(randomblob(16)))"
    empty = "'{}'::jsonb" if dialect == "postgresql" else "'{}'"
    op.execute(
        "INSERT INTO alert_series (id, org_id, alert_id, series_key, labels, state, "
        "consecutive_breaches, last_triggered_at, last_evaluated_at, episode_notified, "
        "missing_runs, last_value, last_seen_at, created_at, updated_at) "
        f"SELECT {new_id}, org_id, id, '{{}}', {empty}, state, consecutive_breaches, "
        "last_triggered_at, last_evaluated_at, episode_notified, 0, last_value, "
        "last_evaluated_at, created_at, updated_at FROM alerts"
    )
    for table in ("alert_history", "notification_deliveries"):
        op.execute(
            f"UPDATE {table} SET labels = {empty}, series_id = (SELECT s.id FROM alert_series s "
            f"WHERE s.alert_id = {table}.alert_id)"
        )
    if dialect == "postgresql":
        for statement in rls.enable_statements("alert_series"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for statement in rls.disable_statements("alert_series"):
            op.execute(statement)
    op.drop_index("ix_alert_history_series_evaluated", table_name="alert_history")
    for table in ("alert_history", "notification_deliveries"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_SERIES_FK.format(table=table), type_="foreignkey")
            batch.drop_column("labels")
            batch.drop_column("series_id")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("resolve_missing_after")
        batch.drop_column("series_filter")
    op.drop_table("alert_series")
