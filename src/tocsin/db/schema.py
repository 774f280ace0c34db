"""Every table of Tocsin, as SQLAlchemy Core (docs/design.md).

The Alembic tree in ``tocsin/db/migrations`` builds exactly this schema; a
test runs ``alembic check`` to prove the two have not drifted.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)

from tocsin.db.types import ExactDecimal, JSONType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _org_fk() -> Column[object]:
    return Column("org_id", Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False)


orgs = Table(
    "orgs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

org_members = Table(
    "org_members",
    metadata,
    Column("org_id", Uuid, ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("role", String(20), nullable=False, server_default="member"),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("name", String(100), nullable=False),
    Column("prefix", String(32), nullable=False, unique=True),
    Column("key_hash", String(128), nullable=False),
    # admin | editor | viewer (tocsin.api.roles). Keys made before roles existed were
    # given everything, so the migration makes them admin; a new key is an editor.
    Column("role", String(16), nullable=False, server_default="editor"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

# Named secrets of one org (database URLs, tokens) that its metric sources reference
# as ``dsn_credential`` or ``${cred:NAME}``. The value is only ever stored encrypted
# (tocsin.crypto) and is decrypted by the source that uses it, at fetch time.
credentials = Table(
    "credentials",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("name", String(100), nullable=False),
    Column("value_ciphertext", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("source", JSONType, nullable=False),
    Column("selector", JSONType),
    Column("schedule", JSONType),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("next_run_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The dead-man switch: how often a value must arrive, and when the next ``missing``
    # run is due if none does (migration 0011).
    Column("expect_every_seconds", Integer),
    Column("missing_due_at", UTCDateTime),
    UniqueConstraint("org_id", "name"),
    Index(
        "ix_metrics_missing_due",
        "missing_due_at",
        postgresql_where=text("missing_due_at IS NOT NULL"),
        sqlite_where=text("missing_due_at IS NOT NULL"),
    ),
    # The scheduler's hot path: "which enabled metrics are due?"
    Index(
        "ix_metrics_due",
        "next_run_at",
        postgresql_where=text("enabled AND next_run_at IS NOT NULL"),
        # As queries write it: SQLite's planner matches a partial index's terms as
        # written (migration 0007).
        sqlite_where=text("enabled = 1 AND next_run_at IS NOT NULL"),
    ),
)

metric_executions = Table(
    "metric_executions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("metric_id", Uuid, ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False),
    _org_fk(),
    Column("status", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("scheduled_for", UTCDateTime),
    Column("started_at", UTCDateTime, nullable=False),
    Column("completed_at", UTCDateTime),
    Column("result", JSONType),
    Column("value", ExactDecimal),
    Column("error", Text),
    # Set once the execution's alerts have been evaluated; the sweep finds
    # finished executions still lacking it after a crash.
    Column("evaluated_at", UTCDateTime),
    # Baselines for relative_change and the metric's recent values.
    Index("ix_metric_executions_metric_completed", "metric_id", "completed_at"),
    Index(
        "ix_metric_executions_unevaluated",
        "completed_at",
        postgresql_where=text("evaluated_at IS NULL AND completed_at IS NOT NULL"),
        sqlite_where=text("evaluated_at IS NULL AND completed_at IS NOT NULL"),
    ),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("metric_id", Uuid, ForeignKey("metrics.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    # The seed's columns, by name.
    Column("condition_type", String(32), nullable=False),
    Column("threshold_value", ExactDecimal, nullable=False),
    Column("comparison_op", String(8), nullable=False),
    Column("action_config", JSONType, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("last_triggered_at", UTCDateTime),
    # Beside them.
    Column("change_mode", String(16), nullable=False, server_default="percent"),
    Column("lookback", Integer, nullable=False, server_default="1"),
    Column("cooldown_seconds", Integer, nullable=False, server_default="3600"),
    Column("pending_evaluations", Integer, nullable=False, server_default="1"),
    Column("notify_on_resolve", Boolean, nullable=False, server_default=text("true")),
    Column("muted_until", UTCDateTime),
    Column("state", String(16), nullable=False, server_default="ok"),
    Column("consecutive_breaches", Integer, nullable=False, server_default="0"),
    # Whether the current triggered episode's firing reached the user: a
    # resolve is only sent for a firing that was.
    Column("episode_notified", Boolean, nullable=False, server_default=text("false")),
    Column("last_evaluated_at", UTCDateTime),
    Column("last_value", ExactDecimal),
    Column("last_execution_id", Uuid),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Which of its metric's series the alert watches: matchers such as "service!=batch".
    Column("series_filter", JSONType, nullable=False, server_default="[]"),
    # Runs a notified, triggered series may be absent before it resolves.
    Column("resolve_missing_after", Integer, nullable=False, server_default="2"),
    # A resolve due while muted is sent unless this is set (migration 0010).
    Column("drop_resolve_when_muted", Boolean, nullable=False, server_default=text("false")),
    # What no data and an error mean, and whether a failure is told (migration 0011).
    Column("on_no_data", String(16), nullable=False, server_default="no_data"),
    Column("on_error", String(16), nullable=False, server_default="error"),
    Column("failure_notice", Boolean, nullable=False, server_default=text("true")),
    # The summary of the series' failure bookkeeping (below).
    Column("failure_notified", Boolean, nullable=False, server_default=text("false")),
    Column("last_failure_notice_at", UTCDateTime),
    # Reminders while triggered; null: never (migration 0012).
    Column("repeat_every_seconds", Integer),
    # When a triggered series resolves, and the summary's episode baseline (0013).
    Column("recovery_op", String(8)),
    Column("recovery_threshold", ExactDecimal),
    Column("recover_from", String(16), nullable=False, server_default="run"),
    Column("episode_baseline", ExactDecimal),
    # Durations, and the summary's breach and clear times (migration 0014).
    Column("for_seconds", Integer, nullable=False, server_default="0"),
    Column("keep_firing_seconds", Integer, nullable=False, server_default="0"),
    Column("breaching_since", UTCDateTime),
    Column("cleared_since", UTCDateTime),
    UniqueConstraint("org_id", "name"),
    # A metric's enabled alerts in id order, the evaluator's (migration 0007).
    Index(
        "ix_alerts_metric_enabled",
        "metric_id",
        "id",
        postgresql_where=text("enabled"),
        sqlite_where=text("enabled = 1"),
    ),
)

# One row per series an alert watches, with that series' state; the alert row's state
# columns are their summary (migration 0008).
alert_series = Table(
    "alert_series",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("alert_id", Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    # The labels as JSON with sorted keys ("{}" for a metric without series).
    Column("series_key", Text, nullable=False),
    Column("labels", JSONType, nullable=False),
    Column("state", String(16), nullable=False, server_default="ok"),
    Column("consecutive_breaches", Integer, nullable=False, server_default="0"),
    Column("last_triggered_at", UTCDateTime),
    Column("last_evaluated_at", UTCDateTime),
    Column("episode_notified", Boolean, nullable=False, server_default=text("false")),
    # Completed runs in a row this series was absent from.
    Column("missing_runs", Integer, nullable=False, server_default="0"),
    # Whether the current no_data/error spell was told, and when a failure notice last
    # went: its cooldown clock, apart from the triggers' (migration 0011).
    Column("failure_notified", Boolean, nullable=False, server_default=text("false")),
    Column("last_failure_notice_at", UTCDateTime),
    # The baseline of the episode's first breach, for --recover-from episode (0013).
    Column("episode_baseline", ExactDecimal),
    # When the current run of breaches began (--for), and when a triggered series'
    # condition stopped holding (--keep-firing-for) (migration 0014).
    Column("breaching_since", UTCDateTime),
    Column("cleared_since", UTCDateTime),
    Column("last_value", ExactDecimal),
    Column("last_seen_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("alert_id", "series_key"),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("alert_id", Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    _org_fk(),
    # The execution evaluated; no foreign key, so pruning executions scans no history
    # (migration 0009). On PostgreSQL the table is partitioned by month of evaluated_at
    # (tocsin.db.partitions) and its primary key is (id, evaluated_at).
    Column("execution_id", Uuid),
    Column("evaluated_at", UTCDateTime, nullable=False),
    Column("value", ExactDecimal),
    Column("baseline_value", ExactDecimal),
    Column("triggered", Boolean, nullable=False),
    Column("state_from", String(16), nullable=False),
    Column("state_to", String(16), nullable=False),
    Column("notified", Boolean, nullable=False, server_default=text("false")),
    Column("reason", Text, nullable=False),
    Column("series_id", Uuid, ForeignKey("alert_series.id", ondelete="SET NULL")),
    Column("labels", JSONType),
    Index("ix_alert_history_alert_evaluated", "alert_id", "evaluated_at"),
    Index("ix_alert_history_series_evaluated", "series_id", "evaluated_at"),
)

notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    _org_fk(),
    Column("alert_id", Uuid, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),
    # The evaluation that sent it; retention removes a delivery no later than its history
    # row (migration 0009: no foreign key into partitioned history).
    Column("history_id", Uuid),
    Column("kind", String(16), nullable=False),
    Column("action", JSONType, nullable=False),
    # What the channel renders: a snapshot taken when the alert fired, so a
    # retry an hour later still says what happened then.
    Column("payload", JSONType, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", Text),
    Column("response_status", Integer),
    Column("duration_ms", Integer),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("series_id", Uuid, ForeignKey("alert_series.id", ondelete="SET NULL")),
    Column("labels", JSONType),
    Index(
        "ix_notification_deliveries_pending",
        "status",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
    Index("ix_notification_deliveries_alert", "alert_id", "created_at"),
    Index("ix_notification_deliveries_history", "history_id"),
)

TENANT_TABLES = (
    "org_members",
    "api_keys",
    "credentials",
    "metrics",
    "metric_executions",
    "alerts",
    "alert_series",
    "alert_history",
    "notification_deliveries",
)
