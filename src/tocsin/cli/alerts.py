"""``tocsin alert ...``"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from tocsin.alerts.destinations import check_actions
from tocsin.alerts.last_delivery import delivery_summary, last_deliveries
from tocsin.alerts.model import Alert, HistoryRow
from tocsin.alerts.outbox import Delivery
from tocsin.alerts.store import AlertStore
from tocsin.cli.alert_options import (
    AlertOptions,
    HeldFor,
    KeepFiringFor,
    OnError,
    OnNoData,
    RecoverFromFlag,
    RecoverWhen,
    RepeatEvery,
    flagged,
)
from tocsin.cli.alert_output import condition_text, human_alert
from tocsin.cli.alert_series import series_, state_text
from tocsin.cli.common import (
    emit,
    in_org,
    run_async,
    state,
    table,
    warn,
)
from tocsin.clock import utcnow
from tocsin.durations import check_mute_seconds, parse_duration
from tocsin.errors import InvalidInput
from tocsin.execution.runs import send_test
from tocsin.metrics.store import MetricStore

app = typer.Typer(
    help="Alerts: conditions on metrics, and what to do when they hold.", no_args_is_help=True
)


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
    series: Annotated[
        list[str] | None,
        typer.Option("--series", help="Watch only matching series, e.g. 'service!=batch'."),
    ] = None,
    resolve_missing_after: Annotated[
        int | None,
        typer.Option("--resolve-missing-after", help="Runs a firing series may be absent."),
    ] = None,
    drop_resolve_when_muted: Annotated[
        bool,
        typer.Option(
            "--drop-resolve-when-muted", help="Drop resolves due while muted (default: send)."
        ),
    ] = False,
    on_no_data: OnNoData = None,
    on_error: OnError = None,
    no_failure_notice: Annotated[
        bool, typer.Option("--no-failure-notice", help="Send no no-data/error notices.")
    ] = False,
    repeat_every: RepeatEvery = None,
    recover_when: RecoverWhen = None,
    recover_from: RecoverFromFlag = None,
    held_for: HeldFor = None,
    keep_firing_for: KeepFiringFor = None,
) -> None:
    """Create an alert on a metric (on each of its series)."""
    st = state(ctx)
    options = AlertOptions(
        metric=metric,
        name=name,
        when=when,
        op=op,
        threshold=threshold,
        condition=condition,
        change_mode=change_mode,
        lookback=lookback,
        cooldown=cooldown,
        pending=pending,
        resolve=not no_resolve,
        actions=action or ["log"],
        description=description,
        series=series,
        resolve_missing_after=resolve_missing_after,
        drop_resolve_when_muted=drop_resolve_when_muted or None,
        on_no_data=on_no_data,
        on_error=on_error,
        failure_notice=False if no_failure_notice else None,
        repeat_every=repeat_every,
        recover_when=recover_when,
        recover_from=recover_from,
        held_for=held_for,
        keep_firing_for=keep_firing_for,
    )

    def build(conn: Connection, org_id: uuid.UUID) -> Alert:
        if when is None and op is None and threshold is None:
            raise InvalidInput("--when", 'expected a condition such as --when "> 5"')
        definition = {"change_mode": "percent"} | options.fields(conn, org_id)
        try:
            warnings.extend(check_actions(definition["action_config"], st.settings))
            return AlertStore(conn, org_id).create_alert(definition)
        except InvalidInput as exc:
            raise flagged(exc) from None

    warnings: list[str] = []
    alert = in_org(st, build)
    warn(warnings)
    emit(st, alert.public(), lambda: "created alert\n" + human_alert(alert))


@app.command("update")
def update_(
    ctx: typer.Context,
    alert: Annotated[str, typer.Argument(help="NAME or ID")],
    metric: Annotated[str | None, typer.Option("--metric", help="Metric NAME or ID.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    when: Annotated[str | None, typer.Option("--when", help='e.g. "> 5" or "lt -20"')] = None,
    op: Annotated[str | None, typer.Option("--op", help="gt gte lt lte eq ne")] = None,
    threshold: Annotated[str | None, typer.Option("--threshold")] = None,
    condition: Annotated[
        str | None, typer.Option("--condition", help="threshold | relative_change")
    ] = None,
    change_mode: Annotated[
        str | None, typer.Option("--change-mode", help="percent | absolute")
    ] = None,
    lookback: Annotated[int | None, typer.Option("--lookback")] = None,
    cooldown: Annotated[str | None, typer.Option("--cooldown", help="e.g. 1h")] = None,
    pending: Annotated[int | None, typer.Option("--pending")] = None,
    resolve: Annotated[
        bool | None, typer.Option("--resolve/--no-resolve", help="Send resolve notices.")
    ] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="Replaces every action; repeatable.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    series: Annotated[
        list[str] | None,
        typer.Option("--series", help="Series matchers (replace the stored ones)."),
    ] = None,
    resolve_missing_after: Annotated[int | None, typer.Option("--resolve-missing-after")] = None,
    drop_resolve_when_muted: Annotated[
        bool | None,
        typer.Option(
            "--drop-resolve-when-muted/--send-resolve-when-muted",
            help="Drop or send resolves due while muted.",
        ),
    ] = None,
    on_no_data: OnNoData = None,
    on_error: OnError = None,
    failure_notice: Annotated[
        bool | None,
        typer.Option("--failure-notice/--no-failure-notice", help="No-data/error notices."),
    ] = None,
    repeat_every: RepeatEvery = None,
    recover_when: RecoverWhen = None,
    recover_from: RecoverFromFlag = None,
    held_for: HeldFor = None,
    keep_firing_for: KeepFiringFor = None,
) -> None:
    """Change an alert: only the options given change; bad input changes nothing."""
    st = state(ctx)
    options = AlertOptions(
        metric=metric,
        name=name,
        when=when,
        op=op,
        threshold=threshold,
        condition=condition,
        change_mode=change_mode,
        lookback=lookback,
        cooldown=cooldown,
        pending=pending,
        resolve=resolve,
        actions=action,
        description=description,
        series=series,
        resolve_missing_after=resolve_missing_after,
        drop_resolve_when_muted=drop_resolve_when_muted,
        on_no_data=on_no_data,
        on_error=on_error,
        failure_notice=failure_notice,
        repeat_every=repeat_every,
        recover_when=recover_when,
        recover_from=recover_from,
        held_for=held_for,
        keep_firing_for=keep_firing_for,
    )

    def change(conn: Connection, org_id: uuid.UUID) -> Alert:
        changes = options.fields(conn, org_id)
        if not changes:
            raise InvalidInput("ALERT", "nothing to change: give at least one option, e.g. --when")
        try:
            if "action_config" in changes:
                warnings.extend(check_actions(changes["action_config"], st.settings))
            return AlertStore(conn, org_id).update_alert(alert, changes)
        except InvalidInput as exc:
            raise flagged(exc) from None

    warnings: list[str] = []
    found: Alert = in_org(st, change)
    warn(warnings)
    emit(st, found.public(), lambda: "updated alert\n" + human_alert(found))


@app.command("list")
def list_(
    ctx: typer.Context,
    metric: Annotated[str | None, typer.Option("--metric", help="Only this metric's.")] = None,
) -> None:
    """List alerts."""
    st = state(ctx)

    def run(conn: Connection, org_id: uuid.UUID) -> list[Alert]:
        metric_id = MetricStore(conn, org_id).get(metric).id if metric else None
        store = AlertStore(conn, org_id)
        return store.with_series(store.list_alerts(metric_id))

    found: list[Alert] = in_org(st, run)
    emit(
        st,
        [a.public() for a in found],
        lambda: (
            table(
                ["NAME", "STATE", "CONDITION", "ENABLED", "LAST FIRED", "ID"],
                [
                    [a.name, state_text(a), condition_text(a), a.enabled, a.last_triggered_at, a.id]
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

    def run(conn: Connection, org_id: uuid.UUID) -> tuple[Alert, Delivery | None]:
        store = AlertStore(conn, org_id)
        (found,) = store.with_series([store.get_alert(alert)])
        return found, last_deliveries(conn, org_id, [found.id]).get(found.id)

    found, last = in_org(st, run)
    summary = delivery_summary(last)
    emit(
        st,
        found.public() | {"last_delivery": summary},
        lambda: human_alert(found) + "\n" + last_delivery_line(summary),
    )


def last_delivery_line(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return "  last sent:  nothing yet"
    trouble = f" ({summary['error']})" if summary["error"] else ""
    return (
        f"  last sent:  {summary['kind']} via {summary['channel']}: {summary['status']}{trouble}, "
        f"{summary['attempts']} attempt(s), {summary['at']}"
    )


app.command("series")(series_)


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

    rows: list[HistoryRow] = in_org(st, run)
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

    found: Alert = in_org(st, run)
    until = found.muted_until.isoformat(timespec="seconds") if found.muted_until else "-"
    emit(st, found.public(), f"muted {found.name} until {until}")


def _simple(verb: str, fn: Callable[[AlertStore, str], Alert], doc: str) -> None:
    def command(
        ctx: typer.Context, alert: Annotated[str, typer.Argument(help="NAME or ID")]
    ) -> None:
        st = state(ctx)
        found: Alert = in_org(st, lambda c, o: fn(AlertStore(c, o), alert))
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
    gone: Alert = in_org(st, lambda c, o: AlertStore(c, o).delete_alert(alert))
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
