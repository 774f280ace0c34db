"""Partial indexes on ``enabled`` in the form SQLite's planner can use; the alerts one
in the evaluator's order.

SQLite uses a partial index only when the query's WHERE clause contains the index's
terms as written. The due-metrics and enabled-alerts indexes said ``WHERE enabled``
while every query says ``enabled = 1`` (how SQLAlchemy writes ``enabled == true()``
there), so neither index was ever used: each run's alert lookup scanned the whole
alerts table in id order, and each tick scanned the metrics table. With 10,000 metrics
and one alert each, that scan was most of the embedded runtime's time per run.
PostgreSQL simplifies ``enabled = true`` to ``enabled``; there, as on SQLite, the
alerts index gains ``id``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _due_index(enabled: str) -> None:
    """The due-metrics index, rewritten on SQLite only (PostgreSQL's is already used)."""
    if op.get_context().dialect.name == "sqlite":
        op.drop_index("ix_metrics_due", table_name="metrics")
        op.create_index(
            "ix_metrics_due",
            "metrics",
            ["next_run_at"],
            sqlite_where=sa.text(f"{enabled} AND next_run_at IS NOT NULL"),
        )


def _alerts_index(columns: list[str], sqlite_enabled: str) -> None:
    op.drop_index("ix_alerts_metric_enabled", table_name="alerts")
    op.create_index(
        "ix_alerts_metric_enabled",
        "alerts",
        columns,
        postgresql_where=sa.text("enabled"),
        sqlite_where=sa.text(sqlite_enabled),
    )


def upgrade() -> None:
    _due_index("enabled = 1")
    # The evaluator reads a metric's alerts in id order: with id in the index they come
    # in that order, not sorted afterwards (a temporary B-tree for the 10,000 alerts of
    # one metric cost bench.evaluate about a tenth).
    _alerts_index(["metric_id", "id"], "enabled = 1")


def downgrade() -> None:
    _alerts_index(["metric_id"], "enabled")
    _due_index("enabled")
