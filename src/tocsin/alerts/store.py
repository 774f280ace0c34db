"""Alerts and their history in the database, always scoped to one org.

The seed's functions are here by name: ``create_alert``,
``get_alerts_for_metric`` and ``log_alert_history``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Row,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from tocsin.alerts.actions.sealing import config_stand_ins, seal_action
from tocsin.alerts.batch import SERIES_STATE_RANK
from tocsin.alerts.model import Alert, AlertDefinition, AlertFields, HistoryRow, SeriesRow
from tocsin.clock import utcnow
from tocsin.crypto.fields import FieldPath
from tocsin.crypto.keyring import Keyring, keyring_for_engine
from tocsin.db.schema import alert_history, alert_series, alerts, metrics
from tocsin.errors import Conflict, InvalidInput, NotFound
from tocsin.metrics.store import MetricStore, as_uuid

# Per alert of a page: how many of its series are in each state, and its metric's selector
# (for series_by), in one statement built once.
_SERIES_SUMMARY = (
    select(
        alerts.c.id,
        alert_series.c.state,
        func.count(alert_series.c.id),
        func.max(cast(metrics.c.selector, Text)),
    )
    .select_from(
        alerts.join(metrics, metrics.c.id == alerts.c.metric_id).outerjoin(
            alert_series, alert_series.c.alert_id == alerts.c.id
        )
    )
    .where(
        alerts.c.org_id == bindparam("org_id"), alerts.c.id.in_(bindparam("ids", expanding=True))
    )
    .group_by(alerts.c.id, alert_series.c.state)
)


def row_to_alert(row: Row[Any]) -> Alert:
    return Alert.model_validate(row._asdict())


def _columns(fields: AlertFields) -> dict[str, Any]:
    data = fields.model_dump(exclude_unset=False)
    return data


def _as_list(config: Any) -> list[dict[str, Any]]:
    return [config] if isinstance(config, dict) else list(config)


def _sealed_config(
    config: Any, ring: Keyring, kept: Sequence[dict[FieldPath, str]] | None = None
) -> Any:
    """``config`` (validated) as stored: every secret sealed, ``kept`` ones as they were."""
    actions = _as_list(config)
    sealed = [seal_action(a, ring, kept[i] if kept else None) for i, a in enumerate(actions)]
    return sealed[0] if isinstance(config, dict) else sealed


class AlertStore:
    def __init__(self, conn: Connection, org_id: uuid.UUID) -> None:
        self.conn = conn
        self.org_id = org_id

    @property
    def ring(self) -> Keyring:
        return keyring_for_engine(self.conn.engine)

    # The seed's API --------------------------------------------------------

    def create_alert(self, definition: AlertDefinition | dict[str, Any]) -> Alert:
        if isinstance(definition, dict):
            try:
                definition = AlertDefinition.model_validate(definition)
            except ValidationError as exc:
                raise InvalidInput.from_validation(exc) from None
        # The metric must be this org's: another org's id is simply not found.
        MetricStore(self.conn, self.org_id).get(definition.metric_id)
        now = utcnow()
        alert_id = uuid.uuid4()
        values = _columns(definition)
        values["action_config"] = _sealed_config(definition.action_config, self.ring)
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    insert(alerts).values(
                        id=alert_id,
                        org_id=self.org_id,
                        state="ok",
                        consecutive_breaches=0,
                        episode_notified=False,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                )
        except IntegrityError:
            raise Conflict(f"an alert named {definition.name!r} already exists") from None
        return self.get_alert(alert_id)

    def names_by_id(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The names of these alerts of the org (for listings of their deliveries)."""
        if not ids:
            return {}
        rows = self.conn.execute(
            select(alerts.c.id, alerts.c.name).where(
                alerts.c.org_id == self.org_id, alerts.c.id.in_(ids)
            )
        )
        return {r.id: r.name for r in rows}

    def get_alerts_for_metric(self, metric_id: uuid.UUID) -> list[Alert]:
        """The metric's enabled alerts, oldest first."""
        rows = self.conn.execute(
            select(alerts)
            .where(
                alerts.c.metric_id == metric_id,
                alerts.c.org_id == self.org_id,
                alerts.c.enabled == true(),
            )
            .order_by(alerts.c.created_at, alerts.c.id)
        )
        return [row_to_alert(r) for r in rows]

    def log_alert_history(
        self,
        alert_id: uuid.UUID,
        execution_id: uuid.UUID | None,
        triggered: bool,
        *,
        reason: str,
        evaluated_at: datetime | None = None,
        value: Decimal | None = None,
        baseline_value: Decimal | None = None,
        state_from: str = "ok",
        state_to: str = "ok",
        notified: bool = False,
    ) -> HistoryRow:
        history_id = uuid.uuid4()
        self.conn.execute(
            insert(alert_history).values(
                id=history_id,
                alert_id=alert_id,
                org_id=self.org_id,
                execution_id=execution_id,
                evaluated_at=evaluated_at or utcnow(),
                value=value,
                baseline_value=baseline_value,
                triggered=triggered,
                state_from=state_from,
                state_to=state_to,
                notified=notified,
                reason=reason,
            )
        )
        return self.history_row(history_id)

    # Reading ---------------------------------------------------------------

    def find_alert(self, ref: str | uuid.UUID) -> Alert | None:
        query = select(alerts).where(alerts.c.org_id == self.org_id)
        ident = as_uuid(ref)
        if ident is not None:
            row = self.conn.execute(query.where(alerts.c.id == ident)).first()
            if row is not None:
                return row_to_alert(row)
        if isinstance(ref, str):
            row = self.conn.execute(query.where(alerts.c.name == ref.strip())).first()
            if row is not None:
                return row_to_alert(row)
        return None

    def get_alert(self, ref: str | uuid.UUID) -> Alert:
        found = self.find_alert(ref)
        if found is None:
            raise NotFound("alert", str(ref))
        return found

    def list_alerts(self, metric_id: uuid.UUID | None = None) -> list[Alert]:
        query = select(alerts).where(alerts.c.org_id == self.org_id)
        if metric_id is not None:
            query = query.where(alerts.c.metric_id == metric_id)
        rows = self.conn.execute(query.order_by(alerts.c.name))
        return [row_to_alert(r) for r in rows]

    def series_summary(
        self, alert_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[dict[str, int], list[str]]]:
        """Per alert: how many of its series are in each state, and its metric's label
        columns (one statement for them all)."""
        if not alert_ids:
            return {}
        counts: dict[uuid.UUID, dict[str, int]] = {i: {} for i in alert_ids}
        selectors: dict[uuid.UUID, Any] = {}
        for alert_id, state, n, selector in self.conn.execute(
            _SERIES_SUMMARY, {"org_id": self.org_id, "ids": list(alert_ids)}
        ):
            if state is not None:
                counts[alert_id][state] = n
            selectors[alert_id] = selector
        out = {}
        for alert_id, states in counts.items():
            selector = json.loads(selectors.get(alert_id) or "null") or {}
            out[alert_id] = (states, list(selector.get("series_by", [])))
        return out

    def with_series(self, found: Sequence[Alert]) -> list[Alert]:
        """``found``, given their ``series_summary`` (set on them)."""
        summary = self.series_summary([a.id for a in found])
        # Set in place: a model_copy per alert cost a list page more than its queries.
        for a in found:
            a.series_states, a.series_by = summary[a.id]
        return list(found)

    def series(
        self, alert_id: uuid.UUID, *, state: str | None = None, limit: int | None = None
    ) -> list[SeriesRow]:
        """The alert's series, worst state first, then by labels."""
        query = select(alert_series).where(
            alert_series.c.alert_id == alert_id, alert_series.c.org_id == self.org_id
        )
        if state is not None:
            query = query.where(alert_series.c.state == state)
        rank = case(SERIES_STATE_RANK, value=alert_series.c.state, else_=0)
        query = query.order_by(rank.desc(), alert_series.c.series_key)
        if limit is not None:
            query = query.limit(limit)
        return [SeriesRow.model_validate(r._asdict()) for r in self.conn.execute(query)]

    def history_row(self, history_id: uuid.UUID) -> HistoryRow:
        row = self.conn.execute(
            select(alert_history).where(
                alert_history.c.id == history_id, alert_history.c.org_id == self.org_id
            )
        ).first()
        if row is None:
            raise NotFound("history row", str(history_id))
        return HistoryRow.model_validate(row._asdict())

    def history(
        self,
        alert_id: uuid.UUID,
        *,
        limit: int = 50,
        since: datetime | None = None,
        until: datetime | None = None,
        series_id: uuid.UUID | None = None,
    ) -> Sequence[HistoryRow]:
        """Newest first; with ``series_id``, that series' only."""
        query = select(alert_history).where(
            alert_history.c.alert_id == alert_id, alert_history.c.org_id == self.org_id
        )
        if series_id is not None:
            query = query.where(alert_history.c.series_id == series_id)
        if since is not None:
            query = query.where(alert_history.c.evaluated_at >= since)
        if until is not None:
            query = query.where(alert_history.c.evaluated_at < until)
        rows = self.conn.execute(
            query.order_by(alert_history.c.evaluated_at.desc(), alert_history.c.id).limit(limit)
        )
        return [HistoryRow.model_validate(r._asdict()) for r in rows]

    # Changing --------------------------------------------------------------

    def update_alert(self, ref: str | uuid.UUID, changes: dict[str, Any]) -> Alert:
        """Apply a partial update; the result is validated as a whole."""
        current = self.get_alert(ref)
        unknown = set(changes) - set(AlertFields.model_fields) - {"metric_id"}
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "unknown field")
        merged = {k: getattr(current, k) for k in AlertFields.model_fields} | changes
        merged["metric_id"] = changes.get("metric_id", current.metric_id)
        # Stored secrets are sealed: validation sees stand-ins for the ones kept as
        # they are (checked when first written), and new values in clear.
        kept: list[dict[FieldPath, str]] = []
        if "action_config" in changes:
            merged["action_config"], kept = config_stand_ins(
                changes["action_config"], current.actions
            )
        else:
            merged["action_config"] = {"type": "log"}
        try:
            definition = AlertDefinition.model_validate(merged)
        except ValidationError as exc:
            raise InvalidInput.from_validation(exc) from None
        if definition.metric_id != current.metric_id:
            MetricStore(self.conn, self.org_id).get(definition.metric_id)
        values = _columns(definition)
        if "action_config" in changes:
            values["action_config"] = _sealed_config(definition.action_config, self.ring, kept)
        else:
            del values["action_config"]
        values["updated_at"] = utcnow()
        try:
            with self.conn.begin_nested():
                self.conn.execute(
                    update(alerts)
                    .where(alerts.c.id == current.id, alerts.c.org_id == self.org_id)
                    .values(**values)
                )
        except IntegrityError:
            raise Conflict(f"an alert named {definition.name!r} already exists") from None
        return self.get_alert(current.id)

    def mute(self, ref: str | uuid.UUID, until: datetime | None) -> Alert:
        if until is not None and until.tzinfo is None:
            raise InvalidInput("until", "expected a time with a UTC offset")
        return self._set(ref, muted_until=until)

    def set_enabled(self, ref: str | uuid.UUID, enabled: bool) -> Alert:
        return self._set(ref, enabled=enabled)

    def delete_alert(self, ref: str | uuid.UUID) -> Alert:
        alert = self.get_alert(ref)
        self.conn.execute(
            delete(alerts).where(alerts.c.id == alert.id, alerts.c.org_id == self.org_id)
        )
        return alert

    def _set(self, ref: str | uuid.UUID, **values: Any) -> Alert:
        alert = self.get_alert(ref)
        self.conn.execute(
            update(alerts)
            .where(alerts.c.id == alert.id, alerts.c.org_id == self.org_id)
            .values(updated_at=utcnow(), **values)
        )
        return self.get_alert(alert.id)
