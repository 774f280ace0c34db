"""SQLite's partial indexes on ``enabled`` in the form its planner can use.

SQLite uses a partial index only when the query's WHERE clause contains the index's
terms as written. The due-metrics and enabled-alerts indexes said ``WHERE enabled``
while every query says ``enabled = 1`` (how SQLAlchemy writes ``enabled == true()``
there), so neither index was ever used: each run's alert lookup scanned the whole
alerts table in id order, and each tick scanned the metrics table. With 10,000 metrics
and one alert each, that scan was most of the embedded runtime's time per run.
PostgreSQL simplifies ``enabled = true`` to ``enabled`` and is left alone.

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

_INDEXES = (
    ("ix_metrics_due", "metrics", ["next_run_at"], "AND next_run_at IS NOT NULL"),
    ("ix_alerts_metric_enabled", "alerts", ["metric_id"], ""),
)


def _recreate(enabled: str) -> None:
    if op.get_context().dialect.name != "sqlite":
        return
    for name, table, columns, rest in _INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, sqlite_where=sa.text(f"{enabled} {rest}".strip()))


def upgrade() -> None:
    _recreate("enabled = 1")


def downgrade() -> None:
    _recreate("enabled")
