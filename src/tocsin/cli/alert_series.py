"""``tocsin alert series A [--state S]``, and an alert's state in words with its series."""

from __future__ import annotations

import uuid
from typing import Annotated, get_args

import typer
from sqlalchemy import Connection

from tocsin.alerts.decision import State
from tocsin.alerts.model import Alert, SeriesRow
from tocsin.alerts.store import AlertStore
from tocsin.cli.common import EXIT_BAD_INPUT, emit, fail, in_org, state, table
from tocsin.metrics.series import describe_labels

STATES: tuple[str, ...] = get_args(State)


def state_text(alert: Alert) -> str:
    """``triggered (2 of 12 series)`` for an alert with several series."""
    count = sum(alert.series_states.values())
    if count <= 1:
        return alert.state
    return f"{alert.state} ({alert.series_states.get('triggered', 0)} of {count} triggered)"


def series_(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="NAME or ID")],
    state_: Annotated[
        str | None, typer.Option("--state", help="ok | pending | triggered | no_data | error")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 1000,
) -> None:
    """The series the alert watches, worst state first."""
    st = state(ctx)
    if state_ is not None and state_ not in STATES:
        fail(f"expected one of {', '.join(STATES)}", EXIT_BAD_INPUT, field="--state")

    def run(conn: Connection, org_id: uuid.UUID) -> list[SeriesRow]:
        store = AlertStore(conn, org_id)
        return store.series(store.get_alert(alert).id, state=state_, limit=limit)

    rows: list[SeriesRow] = in_org(st, run)
    emit(
        st,
        [r.public() for r in rows],
        lambda: (
            table(
                ["SERIES", "STATE", "VALUE", "LAST FIRED", "EVALUATED"],
                [
                    [
                        describe_labels(r.labels) or "{}",
                        r.state,
                        r.public()["last_value"],
                        r.last_triggered_at,
                        r.last_evaluated_at,
                    ]
                    for r in rows
                ],
            )
            if rows
            else "no series yet"
        ),
    )
