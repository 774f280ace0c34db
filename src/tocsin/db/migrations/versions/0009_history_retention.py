"""Retention: history, executions and deliveries can be pruned without scanning.

- ``alert_history`` on PostgreSQL becomes partitioned by month of ``evaluated_at``
  (``tocsin.db.partitions``): a month past every retention drops whole. Its primary key
  becomes ``(id, evaluated_at)``, as a partitioned table's must include the partition key.
- The foreign keys *into* history and executions go (deliveries' ``history_id``,
  history's ``execution_id``): deleting a row they point at made the database look for
  referencing rows with no index to do it by (a scan per deleted row), and a partitioned
  table cannot be referenced by ``id`` alone. The ids stay, as records of what a row came
  from; retention removes a delivery no later than its history row.
- An index on deliveries' ``history_id``: pruning asks "did this evaluation send
  anything?" of every row it removes.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op
from sqlalchemy import text

from tocsin.db import partitions, rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_HISTORY_FK = "fk_notification_deliveries_history_id_alert_history"
_EXECUTION_FK = "fk_alert_history_execution_id_metric_executions"
_DELIVERY_HISTORY_IX = "ix_notification_deliveries_history"


def _pg_history_constraints() -> None:
    """Keys and indexes of ``alert_history`` (either shape) once its rows are in."""
    for statement in (
        "ALTER TABLE alert_history ADD CONSTRAINT fk_alert_history_alert_id_alerts "
        "FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE CASCADE",
        "ALTER TABLE alert_history ADD CONSTRAINT fk_alert_history_org_id_orgs "
        "FOREIGN KEY (org_id) REFERENCES orgs (id) ON DELETE CASCADE",
        "ALTER TABLE alert_history ADD CONSTRAINT fk_alert_history_series_id_alert_series "
        "FOREIGN KEY (series_id) REFERENCES alert_series (id) ON DELETE SET NULL",
        "CREATE INDEX ix_alert_history_alert_evaluated ON alert_history (alert_id, evaluated_at)",
        "CREATE INDEX ix_alert_history_series_evaluated ON alert_history (series_id, evaluated_at)",
        *rls.enable_statements("alert_history"),
    ):
        op.execute(statement)


def _months_with_rows() -> list[datetime]:
    """Months the existing rows fall in. Rendered for Supabase, with no rows to look at:
    none. Either way the runtimes' upkeep creates the coming months' partitions, so a new
    database is the same from either path."""
    if op.get_context().as_sql:
        return []
    found = op.get_bind().execute(
        text(
            "SELECT DISTINCT date_trunc('month', evaluated_at AT TIME ZONE 'UTC') "
            "FROM alert_history"
        )
    )
    return [datetime(m.year, m.month, 1, tzinfo=UTC) for m in found.scalars()]


def _upgrade_postgresql() -> None:
    op.execute(f"ALTER TABLE notification_deliveries DROP CONSTRAINT {_HISTORY_FK}")
    op.execute(
        "CREATE TABLE alert_history_new (LIKE alert_history INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (evaluated_at)"
    )
    months = {partitions.month_of(m) for m in _months_with_rows()}
    statements = partitions.default_statements("alert_history_new")
    for month in sorted(months):
        statements.extend(partitions.create_statements(month, "alert_history_new"))
    for statement in statements:
        op.execute(statement)
    op.execute("INSERT INTO alert_history_new SELECT * FROM alert_history")
    op.execute("DROP TABLE alert_history")
    op.execute("ALTER TABLE alert_history_new RENAME TO alert_history")
    op.execute(
        "ALTER TABLE alert_history ADD CONSTRAINT pk_alert_history PRIMARY KEY (id, evaluated_at)"
    )
    _pg_history_constraints()


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        with op.batch_alter_table("notification_deliveries") as batch:
            batch.drop_constraint(_HISTORY_FK, type_="foreignkey")
        with op.batch_alter_table("alert_history") as batch:
            batch.drop_constraint(_EXECUTION_FK, type_="foreignkey")
    op.create_index(_DELIVERY_HISTORY_IX, "notification_deliveries", ["history_id"])


def downgrade() -> None:
    op.drop_index(_DELIVERY_HISTORY_IX, table_name="notification_deliveries")
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE TABLE alert_history_plain (LIKE alert_history INCLUDING DEFAULTS)")
        op.execute("INSERT INTO alert_history_plain SELECT * FROM alert_history")
        op.execute("DROP TABLE alert_history")
        op.execute("ALTER TABLE alert_history_plain RENAME TO alert_history")
        op.execute("ALTER TABLE alert_history ADD CONSTRAINT pk_alert_history PRIMARY KEY (id)")
        _pg_history_constraints()
        op.execute(
            f"ALTER TABLE alert_history ADD CONSTRAINT {_EXECUTION_FK} FOREIGN KEY "
            "(execution_id) REFERENCES metric_executions (id) ON DELETE SET NULL"
        )
    else:
        with op.batch_alter_table("alert_history") as batch:
            batch.create_foreign_key(
                _EXECUTION_FK, "metric_executions", ["execution_id"], ["id"], ondelete="SET NULL"
            )
    # Pruned history leaves deliveries naming rows that are gone; the key needs them gone.
    op.execute(
        "UPDATE notification_deliveries SET history_id = NULL WHERE history_id IS NOT NULL "
        "AND history_id NOT IN (SELECT id FROM alert_history)"
    )
    with op.batch_alter_table("notification_deliveries") as batch:
        batch.create_foreign_key(
            _HISTORY_FK, "alert_history", ["history_id"], ["id"], ondelete="SET NULL"
        )
