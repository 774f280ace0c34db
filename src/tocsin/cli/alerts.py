"""``tocsin alert ...``"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from tocsin.alerts.actions import ActionConfigError, parse_action_spec
from tocsin.alerts.model import OP_SYMBOLS, Alert, HistoryRow, parse_when
from tocsin.alerts.store import AlertStore
from tocsin.cli.common import CliState, emit, guarded, run_async, state, table
from tocsin.clock import utcnow
from tocsin.durations import check_mute_seconds, format_duration, parse_duration
from tocsin.errors import InvalidInput
from tocsin.execution.runs import send_test
from tocsin.metrics.store import MetricStore

app = typer.Typer(
    help="Alerts: conditions on metrics, and what to do when they hold.", no_args_is_help=True
)


def condition_text(a: Alert) -> str:
    op = OP_SYMBOLS[a.comparison_op]
    threshold = a.public()["threshold_value"]
    if a.condition_type == "threshold":
        return f"{op} {threshold}"
    unit = "%" if a.change_mode == "percent" else ""
    back = f" vs {a.lookback} runs back" if a.lookback != 1 else ""
    return f"change {op} {threshold}{unit}{back}"


def human_alert(a: Alert) -> str:
    pub = a.public()
    muted = a.muted_until.isoformat() if a.muted_until else "-"
    return "\n".join(
        [
            f"{a.name}  [{a.state}]  ({a.id})",
            f"  metric:     {a.metric_id}",
            f"  condition:  {condition_text(a)}",
            f"  actions:    {pub['action_config']}",
            f"  cooldown:   {format_duration(a.cooldown_seconds)}   pending: "
            f"{a.pending_evaluations}   resolve: {a.notify_on_resolve}",
            f"  enabled:    {a.enabled}   muted until: {muted}",
            f"  last value: {pub['last_value']}   last fired: "
            f"{a.last_triggered_at.isoformat() if a.last_triggered_at else '-'}",
        ]
    )


def _in_org(st: CliState, fn: Callable[[Connection, uuid.UUID], Any]) -> Any:
    def run() -> Any:
        with st.transaction() as (conn, org_id):
            return fn(conn, org_id)

    return guarded(run)


@app.command("create")
def create(
    ctx: typer.Context,
    metric: Annotated[str, typer.Option("--metric", help="Metric NAME or ID.")],
    name: Annotated[str, typer.Option("--name", help="Unique alert name in the org.")],
    when: Annotated[str | None, typer.Option("--when", help='e.g. "> 5" or "lt -20"')] = None,
    op: Annotated[str | None, typer.Option("--op", help="gt gte lt lte eq ne")] = None,
    threshold: Annotated[str | None, typer.Option("--threshold")] = None,
    condition: Annotated[
        str, typer.Option("--condition", help="threshold | relative_change")
    ] = "threshold",
    change_mode: Annotated[
        str | None, typer.Option("--change-mode", help="percent | absolute")
    ] = None,
    lookback: Annotated[int, typer.Option("--lookback", help="Runs back for the baseline.")] = 1,
    cooldown: Annotated[str, typer.Option("--cooldown", help="e.g. 1h; 0 = no limit")] = "1h",
    pending: Annotated[int, typer.Option("--pending", help="Breaches in a row to fire.")] = 1,
    no_resolve: Annotated[bool, typer.Option("--no-resolve", help="No resolve notice.")] = False,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action",
            help="log | slack:URL | slack-channel:ID | webhook:URL | "
            "email:ADDR | pagerduty:KEY | JSON object",
        ),
    ] = None,
    description: Annotated[str, typer.Option("--description")] = "",
) -> None:
    """Create an alert on a metric."""
    st = state(ctx)

    def build(conn: Connection, org_id: uuid.UUID) -> Alert:
        if when is not None and (op is not None or threshold is not None):
            raise InvalidInput("--when", "give either --when or --op with --threshold")
        mode = change_mode
        if when is not None:
            try:
                comparison, value, percent = parse_when(when)
            except ValueError as exc:
                raise InvalidInput("--when", str(exc)) from None
            if percent and mode is None:
                mode = "percent"
        elif op is not None and threshold is not None:
            comparison, value = op, threshold  # type: ignore[assignment]
        else:
            raise InvalidInput("--when", 'expected a condition such as --when "> 5"')
        try:
            cooldown_seconds = parse_duration(cooldown)
        except ValueError as exc:
            raise InvalidInput("--cooldown", str(exc)) from None
        try:
            actions = [parse_action_spec(s) for s in (action or ["log"])]
        except ActionConfigError as exc:
            raise InvalidInput("--action", str(exc)) from None
        found = MetricStore(conn, org_id).find(metric)
        if found is None:
            names = MetricStore(conn, org_id).names()
            known = f"; known metrics: {', '.join(names)}" if names else "; no metrics yet"
            raise InvalidInput("--metric", f"no metric named {metric!r}{known}")
        definition: dict[str, Any] = {
            "metric_id": found.id,
            "name": name,
            "description": description,
            "condition_type": condition,
            "comparison_op": comparison,
            "threshold_value": value,
            "change_mode": mode or "percent",
            "lookback": lookback,
            "cooldown_seconds": cooldown_seconds,
            "pending_evaluations": pending,
            "notify_on_resolve": not no_resolve,
            "action_config": actions[0] if len(actions) == 1 else actions,
        }
        try:
            return AlertStore(conn, org_id).create_alert(definition)
        except InvalidInput as exc:
            raise _flagged(exc) from None

    alert = _in_org(st, build)
    emit(st, alert.public(), lambda: "created alert\n" + human_alert(alert))


FLAG_NAMES = {
    "comparison_op": "--op",
    "threshold_value": "--threshold",
    "condition_type": "--condition",
    "change_mode": "--change-mode",
    "lookback": "--lookback",
    "cooldown_seconds": "--cooldown",
    "pending_evaluations": "--pending",
    "name": "--name",
    "action_config": "--action",
}


def _flagged(exc: InvalidInput) -> InvalidInput:
    def flag(field: str) -> str:
        head = field.split(".", 1)[0]
        return FLAG_NAMES.get(head, field)

    errors = [(flag(f), m) for f, m in exc.errors]
    return InvalidInput(errors[0][0], errors[0][1], more=errors[1:])


@app.command("list")
def list_(
    ctx: typer.Context,
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric's.")] = None,
) -> None:
    """List alerts."""
    st = state(ctx)

    def run(conn: Connection, org_id: uuid.UUID) -> list[Alert]:
        metric_id = MetricStore(conn, org_id).get(metric).id if metric else None
        return AlertStore(conn, org_id).list_alerts(metric_id)

    found: list[Alert] = _in_org(st, run)
    emit(
        st,
        [a.public() for a in found],
        lambda: (
            table(
                ["NAME", "STATE", "CONDITION", "ENABLED", "LAST FIRED", "ID"],
                [
                    [a.name, a.state, condition_text(a), a.enabled, a.last_triggered_at, a.id]
                    for a in found
                ],
            )
            if found
            else "no alerts yet"
        ),
    )


@app.command("show")
def show(ctx: typer.Context, alert: Annotated[str, typer.Argument(help="NAME or ID")]) -> None:
    """Show one alert."""
    st = state(ctx)
    found: Alert = _in_org(st, lambda c, o: AlertStore(c, o).get_alert(alert))
    emit(st, found.public(), lambda: human_alert(found))


@app.command("history")
def history(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="NAME or ID")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 20,
) -> None:
    """The alert's evaluations, newest first."""
    st = state(ctx)

    def run(conn: Connection, org_id: uuid.UUID) -> list[HistoryRow]:
        store = AlertStore(conn, org_id)
        return list(store.history(store.get_alert(alert).id, limit=limit))

    rows: list[HistoryRow] = _in_org(st, run)
    emit(
        st,
        [r.public() for r in rows],
        lambda: (
            table(
                ["EVALUATED", "VALUE", "TRIGGERED", "STATE", "NOTIFIED", "REASON"],
                [
                    [
                        r.evaluated_at.isoformat(timespec="seconds"),
                        r.public()["value"],
                        r.triggered,
                        f"{r.state_from}->{r.state_to}",
                        r.notified,
                        r.reason,
                    ]
                    for r in rows
                ],
            )
            if rows
            else "no evaluations yet"
        ),
    )


@app.command("mute")
def mute(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="NAME or ID")],
    for_: Annotated[str, typer.Option("--for", help="e.g. 2h")],
) -> None:
    """Evaluate and record as usual, but send nothing for a while."""
    st = state(ctx)

    def run(conn: Connection, org_id: uuid.UUID) -> Alert:
        try:
            seconds = check_mute_seconds(parse_duration(for_))
        except ValueError as exc:
            raise InvalidInput("--for", str(exc)) from None
        return AlertStore(conn, org_id).mute(alert, utcnow() + timedelta(seconds=seconds))

    found: Alert = _in_org(st, run)
    until = found.muted_until.isoformat(timespec="seconds") if found.muted_until else "-"
    emit(st, found.public(), f"muted {found.name} until {until}")


def _simple(verb: str, fn: Callable[[AlertStore, str], Alert], doc: str) -> None:
    def command(
        ctx: typer.Context, alert: Annotated[str, typer.Argument(help="NAME or ID")]
    ) -> None:
        st = state(ctx)
        found: Alert = _in_org(st, lambda c, o: fn(AlertStore(c, o), alert))
        emit(
            st,
            found.public(),
            f"{verb}d {found.name}" if verb.endswith("e") else f"{verb}ed {found.name}",
        )

    command.__doc__ = doc
    app.command(verb)(command)


_simple("unmute", lambda s, a: s.mute(a, None), "Send notifications again.")
_simple("enable", lambda s, a: s.set_enabled(a, True), "Evaluate the alert again.")
_simple("disable", lambda s, a: s.set_enabled(a, False), "Stop evaluating the alert.")


@app.command("delete")
def delete(ctx: typer.Context, alert: Annotated[str, typer.Argument(help="NAME or ID")]) -> None:
    """Delete an alert and its history."""
    st = state(ctx)
    gone: Alert = _in_org(st, lambda c, o: AlertStore(c, o).delete_alert(alert))
    emit(st, {"deleted": gone.public()}, f"deleted alert {gone.name}")


@app.command("test")
def test(ctx: typer.Context, alert: Annotated[str, typer.Argument(help="NAME or ID")]) -> None:
    """Send a test notification through every action of the alert."""
    from tocsin.cli.deliveries import delivery_rows

    st = state(ctx)
    db = st.database()
    org_id = st.org_id()
    sent = run_async(st, lambda http: send_test(db, org_id, alert, settings=st.settings, http=http))
    emit(st, [d.public() for d in sent], lambda: delivery_rows(sent))
