"""When data breaks (docs/alerts.md, "When data breaks"): per-alert handling of no data
and errors, failure notices and their bookkeeping, and the metric's dead-man switch.

* ``alerts.on_no_data`` / ``alerts.on_error``: what an unreadable value means
  (``no_data``/``error``, the default, keep their own state; ``alerting``, ``ok``,
  ``keep_last``).
* ``alerts.failure_notice``: whether a series that stays in ``no_data``/``error`` sends
  a notice (on for every alert, old and new).
* ``failure_notified`` / ``last_failure_notice_at`` on ``alert_series`` (and on
  ``alerts``, their summary): whether the current failure was told, and when the last
  failure notice went (its cooldown clock, apart from the triggers').
* ``metrics.expect_every_seconds``: how often a value must arrive; ``metrics.missing_due_at``:
  when the next ``missing`` run is due if none arrives (indexed for the runtime's tick).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.db.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ALERT_COLUMNS = ("on_no_data", "on_error", "failure_notice")
_STATUS_COLUMNS = ("failure_notified", "last_failure_notice_at")


def upgrade() -> None:
    # Plain ADD COLUMN on both engines, never a batch: on SQLite a batch may rebuild the
    # table, and dropping the old ``alerts`` cascades to every alert's history, series
    # and deliveries.
    op.add_column(
        "alerts", sa.Column("on_no_data", sa.String(16), nullable=False, server_default="no_data")
    )
    op.add_column(
        "alerts", sa.Column("on_error", sa.String(16), nullable=False, server_default="error")
    )
    op.add_column(
        "alerts",
        sa.Column("failure_notice", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    for table in ("alerts", "alert_series"):
        op.add_column(
            table,
            sa.Column("failure_notified", sa.Boolean(), nullable=False, server_default=sa.false()),
        )
        op.add_column(table, sa.Column("last_failure_notice_at", UTCDateTime(), nullable=True))
    op.add_column("metrics", sa.Column("expect_every_seconds", sa.Integer(), nullable=True))
    op.add_column("metrics", sa.Column("missing_due_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_metrics_missing_due",
        "metrics",
        ["missing_due_at"],
        postgresql_where=sa.text("missing_due_at IS NOT NULL"),
        sqlite_where=sa.text("missing_due_at IS NOT NULL"),
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade), as PostgreSQL does.
    op.drop_index("ix_metrics_missing_due", table_name="metrics")
    for column in ("missing_due_at", "expect_every_seconds"):
        op.execute(f"ALTER TABLE metrics DROP COLUMN {column}")
    for table in ("alert_series", "alerts"):
        for column in _STATUS_COLUMNS:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    for column in _ALERT_COLUMNS:
        op.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
