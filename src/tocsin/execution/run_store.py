"""What a scheduled run asks of the database: claim due slots, start runs, finish them.

One interface, one implementation per engine, chosen once when a runtime is built
(:func:`run_store_for`): :class:`~tocsin.execution.sqlite_runs.SqliteRunStore` holds one
SQLite connection for the embedded runtime and commits runs that finish together in one
transaction; :class:`~tocsin.execution.pg_runs.PostgresRunStore` talks to PostgreSQL
through psycopg's native async driver on the worker's event loop. Both write the same
rows through the same statements (``metrics/store.py``, ``execution/run_statements.py``)
and evaluate through the same ``evaluate_alerts``, so the engines differ in cost only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tocsin.alerts.evaluator import EvaluationResult
from tocsin.metrics.model import Execution, Metric, RunStatus, Trigger


@dataclass(frozen=True)
class DueMetric:
    metric_id: uuid.UUID
    scheduled_for: datetime


@dataclass(frozen=True)
class StartedRun:
    metric: Metric
    execution_id: uuid.UUID
    # Whether any enabled alert waits on this run's result (when it started).
    has_alerts: bool
    # The simulated series' position (other sources do not need it: 0).
    completed_runs: int
    # The slot it runs for, when scheduled.
    scheduled_for: datetime | None = None
    # As stored on its execution (so finishing it need not read them back).
    started_at: datetime | None = None
    trigger: Trigger = "schedule"


@dataclass(frozen=True)
class FinishedRun:
    """What a run's source gave: the execution's outcome, not yet stored."""

    run: StartedRun
    status: RunStatus
    result: Any
    value: Decimal | None
    error: str | None


@dataclass(frozen=True)
class RunRecord:
    """A stored run: its finished execution and, when it was evaluated in the same
    transaction, the evaluation (``None``: the caller still owes it)."""

    execution: Execution
    evaluation: EvaluationResult | None


class RunStore(Protocol):
    async def claim_and_start(self, *, limit: int) -> list[StartedRun]:
        """Claim up to ``limit`` due slots (each once, whoever else claims) and record
        each one's execution as ``running``."""
        ...

    async def start(
        self, metric_id: uuid.UUID, *, trigger: Trigger, scheduled_for: datetime | None
    ) -> StartedRun:
        """Record one run of ``metric_id`` as ``running``.

        Raises ``sqlalchemy.exc.NoResultFound`` when the metric is gone."""
        ...

    async def finish(
        self, finished: Sequence[FinishedRun], *, claim_for_seconds: float | None = None
    ) -> list[RunRecord]:
        """Store each run's outcome and evaluate its alerts in the same transaction.
        With ``claim_for_seconds`` the deliveries they cause are born claimed by the
        caller (``EvaluationResult.outbox``), which makes their first attempt."""
        ...

    async def finish_unevaluated(self, item: FinishedRun) -> Execution:
        """Store a run's outcome alone, its evaluation still owed."""
        ...

    def groups(self, run: StartedRun) -> bool:
        """Whether finishing ``run`` costs less in a group commit than on its own."""
        ...

    async def next_due_at(self) -> datetime | None:
        """When the next enabled metric is due."""
        ...

    async def close(self) -> None: ...
