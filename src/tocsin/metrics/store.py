"""Metrics and their executions in the database, always scoped to one org."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    Connection,
    Row,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from tocsin.clock import utcnow
from tocsin.crypto.keyring import Keyring, keyring_for_engine
from tocsin.db.schema import alerts, metric_executions, metrics
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.metrics.extract import ValueSelector
from tocsin.metrics.model import Execution, Metric, MetricDefinition, silence_grace
from tocsin.metrics.references import check_references
from tocsin.metrics.sealing import kept_in_source, seal_source
from tocsin.metrics.series import extract_series
from tocsin.metrics.sources import SOURCES, build_source
from tocsin.settings import load_settings


def as_uuid(ref: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(ref, uuid.UUID):
        return ref
    try:
        return uuid.UUID(ref)
    except ValueError:
        return None


def value_of(
    result: Any, selector: ValueSelector | None, at: datetime | None = None
) -> Decimal | None:
    """The number a completed execution's result yields, if it yields one: a metric
    without series (its one series ``{}``), stored with the run for charts and
    baselines. A result with series has none, nor one whose data was stale ``at`` its
    completion (a baseline never compares with stale data)."""
    found = extract_series(result, selector, at=at)
    if len(found.series) != 1 or found.series[0].key != "{}":
        return None
    extracted = found.series[0].extracted
    return extracted.value if extracted.status == "value" else None


def row_to_metric(row: Row[Any]) -> Metric:
    return Metric.model_validate(row._asdict())


def row_to_execution(row: Row[Any]) -> Execution:
    return Execution.model_validate(row._asdict())


def _dump(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(exclude_none=True) if model is not None else None


def _validated(definition: MetricDefinition | dict[str, Any]) -> MetricDefinition:
    if isinstance(definition, dict):
        try:
            definition = MetricDefinition.model_validate(definition)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc) from None
    source_cls = SOURCES[definition.source["type"]]
    if definition.schedule is not None and not source_cls.scheduled:
        raise InvalidInput("schedule", f"a {source_cls.type} metric takes no schedule")
    if definition.schedule is None and source_cls.scheduled:
        raise InvalidInput(
            "schedule", f"a {source_cls.type} metric needs a schedule: every_seconds or cron"
        )
    return definition


def _columns(definition: MetricDefinition) -> dict[str, Any]:
    return {
        "name": definition.name,
        "description": definition.description,
        "source": definition.source,
        "selector": _dump(definition.selector),
        "schedule": _dump(definition.schedule),
        "enabled": definition.enabled,
        "expect_every_seconds": definition.expect_every_seconds,
    }


def _missing_due(definition: MetricDefinition, now: datetime) -> datetime | None:
    """When the first ``missing`` run is due if no value arrives (execution/silence.py):
    a period plus its grace from now; none when silence is not watched. A disabled
    metric is not watched, so a pause records no silence."""
    period = definition.expect_every_seconds
    if period is None or not definition.enabled:
        return None
    return now + silence_grace(period)


# Built once: the run and push paths look metrics up and write executions constantly,
# and building a statement costs several times what executing it does.
_BY_ID = select(metrics).where(
    metrics.c.org_id == bindparam("org_id"), metrics.c.id == bindparam("id")
)
_BY_NAME = select(metrics).where(
    metrics.c.org_id == bindparam("org_id"), metrics.c.name == bindparam("name")
)
_INSERT_EXECUTION = insert(metric_executions)
# Built once: a run finishes with one of these (building an UPDATE per call cost more
# than executing it).
_FINISH = (
    update(metric_executions)
    .where(
        metric_executions.c.id == bindparam("b_id"),
        metric_executions.c.org_id == bindparam("b_org_id"),
    )
    .values(
        status=bindparam("status"),
        result=bindparam("result"),
        value=bindparam("value"),
        error=bindparam("error"),
        completed_at=bindparam("completed_at"),
        evaluated_at=bindparam("evaluated_at"),
    )
    .returning(*metric_executions.c)
)
FINISH_UNLESS_ALERTS = _FINISH.values(
    evaluated_at=case(
        (
            exists().where(
                alerts.c.metric_id == metric_executions.c.metric_id, alerts.c.enabled == true()
            ),
            None,
        ),
        else_=bindparam("completed_at"),
    )
)


class MetricStore:
    def __init__(self, conn: Connection, org_id: uuid.UUID) -> None:
        self.conn = conn
        self.org_id = org_id

    @property
    def ring(self) -> Keyring:
        return keyring_for_engine(self.conn.engine)

    def _check_references(self, definition: MetricDefinition) -> None:
        refs = build_source(definition.source).config.references()
        if refs:
            # Read afresh: the allowlist is what the operator has set now, in every process.
            check_references(self.conn, self.org_id, refs, load_settings())

    def create(self, definition: MetricDefinition | dict[str, Any]) -> Metric:
        definition = _validated(definition)
        self._check_references(definition)
        now = utcnow()
        metric_id = uuid.uuid4()
        values = _columns(definition) | {
            "source": seal_source(definition.source, self.ring),
            "id": metric_id,
            "org_id": self.org_id,
            # A new scheduled metric runs at once; its slots follow from there.
            "next_run_at": now if definition.schedule is not None else None,
            "missing_due_at": _missing_due(definition, now),
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(metrics).values(**values))
        except IntegrityError:
            raise Conflict(f"a metric named {definition.name!r} already exists") from None
        return self.get(metric_id)

    def update(self, ref: str | uuid.UUID, changes: dict[str, Any]) -> Metric:
        """A partial update, validated as a whole like a new metric."""
        current = self.get(ref)
        merged = {
            "name": current.name,
            "description": current.description,
            "source": current.source,
            "selector": _dump(current.selector),
            "schedule": _dump(current.schedule),
            "enabled": current.enabled,
            "expect_every_seconds": current.expect_every_seconds,
        } | changes
        definition = _validated(merged)
        if "source" in changes:
            self._check_references(definition)
        now = utcnow()
        # A header value that is what is stored under its name was sent back as shown
        # (or not sent at all): it stays sealed as it is; anything else is sealed anew.
        kept = kept_in_source(definition.source, current.source)
        values = _columns(definition) | {
            "source": seal_source(definition.source, self.ring, kept),
            "updated_at": now,
        }
        if definition.schedule != current.schedule:
            # A new schedule starts now, as a new metric does; its slots follow from there.
            values["next_run_at"] = now if definition.schedule is not None else None
        watched = (definition.expect_every_seconds, definition.enabled)
        if watched != (current.expect_every_seconds, current.enabled):
            # A new period (or a metric enabled again) waits a whole period from now;
            # the hot push path never writes here, the runtimes' tick moves it on.
            values["missing_due_at"] = _missing_due(definition, now)
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    update(metrics)
                    .where(metrics.c.id == current.id, metrics.c.org_id == self.org_id)
                    .values(**values)
                )
        except IntegrityError:
            raise Conflict(f"a metric named {definition.name!r} already exists") from None
        return self.get(current.id)

    def dependents(self, metric_id: uuid.UUID) -> tuple[int, int]:
        """How many alerts and executions deleting the metric would take with it."""
        n_alerts = self.conn.execute(
            select(func.count()).select_from(alerts).where(alerts.c.metric_id == metric_id)
        ).scalar_one()
        n_runs = self.conn.execute(
            select(func.count())
            .select_from(metric_executions)
            .where(metric_executions.c.metric_id == metric_id)
        ).scalar_one()
        return int(n_alerts), int(n_runs)

    def find(self, ref: str | uuid.UUID) -> Metric | None:
        ident = as_uuid(ref)
        if ident is not None:
            row = self.conn.execute(_BY_ID, {"org_id": self.org_id, "id": ident}).first()
            if row is not None:
                return row_to_metric(row)
        if isinstance(ref, str):
            row = self.conn.execute(_BY_NAME, {"org_id": self.org_id, "name": ref.strip()}).first()
            if row is not None:
                return row_to_metric(row)
        return None

    def get(self, ref: str | uuid.UUID) -> Metric:
        found = self.find(ref)
        if found is None:
            raise NotFound("metric", str(ref))
        return found

    def list_metrics(self) -> list[Metric]:
        rows = self.conn.execute(
            select(metrics).where(metrics.c.org_id == self.org_id).order_by(metrics.c.name)
        )
        return [row_to_metric(r) for r in rows]

    def names(self) -> list[str]:
        return [m.name for m in self.list_metrics()]

    def delete(self, ref: str | uuid.UUID) -> Metric:
        metric = self.get(ref)
        self.conn.execute(
            delete(metrics).where(metrics.c.id == metric.id, metrics.c.org_id == self.org_id)
        )
        return metric

    # Executions -----------------------------------------------------------

    def start_execution(
        self,
        metric_id: uuid.UUID,
        *,
        trigger: str,
        scheduled_for: datetime | None = None,
        started_at: datetime | None = None,
        execution_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        exec_id = execution_id or uuid.uuid4()
        self.conn.execute(
            _INSERT_EXECUTION,
            {
                "id": exec_id,
                "metric_id": metric_id,
                "org_id": self.org_id,
                "status": "running",
                "trigger": trigger,
                "scheduled_for": scheduled_for,
                "started_at": started_at or utcnow(),
            },
        )
        return exec_id

    def finish_execution(
        self,
        execution_id: uuid.UUID,
        *,
        status: str,
        result: Any = None,
        value: Decimal | None = None,
        error: str | None = None,
        completed_at: datetime | None = None,
        evaluated: bool | Literal["unless_alerts"] = False,
    ) -> Execution:
        """``evaluated``: the caller evaluates it in this same transaction (see
        ``record_value``). ``"unless_alerts"``: stored as evaluated only if the metric has
        no enabled alert (the caller need not look for them then)."""
        completed_at = completed_at or utcnow()
        statement = FINISH_UNLESS_ALERTS if evaluated == "unless_alerts" else _FINISH
        row = self.conn.execute(
            statement,
            {
                "b_id": execution_id,
                "b_org_id": self.org_id,
                "status": status,
                "result": result,
                "value": value,
                "error": error,
                "completed_at": completed_at,
                "evaluated_at": completed_at if evaluated else None,
            },
        ).first()
        if row is None:
            raise NotFound("execution", str(execution_id))
        return row_to_execution(row)

    def record_value(
        self,
        metric_id: uuid.UUID,
        result: Any,
        *,
        trigger: str = "push",
        at: datetime | None = None,
        metric: Metric | None = None,
        evaluated: bool = False,
    ) -> Execution:
        """A pushed (or mocked) result: an execution that completes at once.

        ``evaluated``: the caller evaluates it in this same transaction, so it is stored
        as evaluated already (``evaluate_alerts`` then has no mark to write)."""
        at = at or utcnow()
        metric = metric or self.get(metric_id)
        execution = Execution(
            id=uuid.uuid4(),
            metric_id=metric.id,
            org_id=self.org_id,
            status="completed",
            trigger=trigger,
            scheduled_for=None,
            started_at=at,
            completed_at=at,
            result=result,
            value=value_of(result, metric.selector, at),
            error=None,
            evaluated_at=utcnow() if evaluated else None,
        )
        exclude = set() if evaluated else {"evaluated_at"}
        self.conn.execute(_INSERT_EXECUTION, execution.model_dump(exclude=exclude))
        return execution

    def get_execution(self, execution_id: uuid.UUID) -> Execution:
        row = self.conn.execute(
            select(metric_executions).where(
                metric_executions.c.id == execution_id,
                metric_executions.c.org_id == self.org_id,
            )
        ).first()
        if row is None:
            raise NotFound("execution", str(execution_id))
        return row_to_execution(row)

    def executions(self, metric_id: uuid.UUID, *, limit: int = 50) -> Sequence[Execution]:
        rows = self.conn.execute(
            select(metric_executions)
            .where(
                metric_executions.c.metric_id == metric_id,
                metric_executions.c.org_id == self.org_id,
            )
            .order_by(metric_executions.c.started_at.desc(), metric_executions.c.id)
            .limit(limit)
        )
        return [row_to_execution(r) for r in rows]
