"""Alerts, their history and the notification outbox.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db.types import ExactDecimal, JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("metric_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("condition_type", sa.String(length=32), nullable=False),
        sa.Column("threshold_value", ExactDecimal(), nullable=False),
        sa.Column("comparison_op", sa.String(length=8), nullable=False),
        sa.Column("action_config", JSONType, nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_triggered_at", UTCDateTime(), nullable=True),
        sa.Column("change_mode", sa.String(length=16), server_default="percent", nullable=False),
        sa.Column("lookback", sa.Integer(), server_default="1", nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), server_default="3600", nullable=False),
        sa.Column("pending_evaluations", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "notify_on_resolve", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("muted_until", UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), server_default="ok", nullable=False),
        sa.Column("consecutive_breaches", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "episode_notified", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("last_evaluated_at", UTCDateTime(), nullable=True),
        sa.Column("last_value", ExactDecimal(), nullable=True),
        sa.Column("last_execution_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["metrics.id"],
            name=op.f("fk_alerts_metric_id_metrics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_alerts_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_alerts_org_id_name")),
    )
    op.create_index(
        "ix_alerts_metric_enabled",
        "alerts",
        ["metric_id"],
        unique=False,
        postgresql_where=sa.text("enabled"),
        sqlite_where=sa.text("enabled"),
    )

    op.create_table(
        "alert_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("execution_id", sa.Uuid(), nullable=True),
        sa.Column("evaluated_at", UTCDateTime(), nullable=False),
        sa.Column("value", ExactDecimal(), nullable=True),
        sa.Column("baseline_value", ExactDecimal(), nullable=True),
        sa.Column("triggered", sa.Boolean(), nullable=False),
        sa.Column("state_from", sa.String(length=16), nullable=False),
        sa.Column("state_to", sa.String(length=16), nullable=False),
        sa.Column("notified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_history_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["metric_executions.id"],
            name=op.f("fk_alert_history_execution_id_metric_executions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_alert_history_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
    )
    op.create_index(
        "ix_alert_history_alert_evaluated",
        "alert_history",
        ["alert_id", "evaluated_at"],
        unique=False,
    )

    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("history_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("action", JSONType, nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_notification_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["history_id"],
            ["alert_history.id"],
            name=op.f("fk_notification_deliveries_history_id_alert_history"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_notification_deliveries_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_notification_deliveries_idempotency_key")
        ),
    )
    op.create_index(
        "ix_notification_deliveries_alert",
        "notification_deliveries",
        ["alert_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_notification_deliveries_pending",
        "notification_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("notification_deliveries")
    op.drop_table("alert_history")
    op.drop_table("alerts")
