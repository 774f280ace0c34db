"""``tocsin deliveries ...``"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from tocsin.alerts.delivery import Deliverer
from tocsin.alerts.notified import notify_words
from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.alerts.store import AlertStore
from tocsin.cli.common import EXIT_RUNTIME, emit, guarded, run_async, state, table

app = typer.Typer(help="Notifications sent, pending and failed.", no_args_is_help=True)


def delivery_rows(found: list[Delivery], names: dict[uuid.UUID, str] | None = None) -> str:
    names = names or {}
    if not found:
        return "no deliveries"
    return table(
        ["CREATED", "ALERT", "KIND", "CHANNEL", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "ID"],
        [
            [
                d.created_at.isoformat(timespec="seconds"),
                names.get(d.alert_id, str(d.alert_id)),
                d.kind,
                d.action.get("type"),
                d.status,
                d.attempts,
                d.response_status,
                (d.last_error or "")[:60],
                d.id,
            ]
            for d in found
        ],
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="pending | sent | failed | dead")
    ] = None,
    alert: Annotated[
        str | None, typer.Option("--alert", help="Only this alert's (NAME or ID).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
) -> None:
    """List deliveries, newest first."""
    st = state(ctx)

    def run() -> tuple[list[Delivery], dict[uuid.UUID, str]]:
        with st.transaction() as (conn, org_id):
            store = AlertStore(conn, org_id)
            only = store.get_alert(alert).id if alert else None
            found = DeliveryStore(conn, org_id).list(status=status, alert_id=only, limit=limit)
            return found, store.names_by_id({d.alert_id for d in found})

    found, names = guarded(run)
    emit(
        st,
        [d.public() | {"alert_name": names.get(d.alert_id)} for d in found],
        lambda: delivery_rows(found, names),
    )


@app.command("retry")
def retry(ctx: typer.Context, delivery: Annotated[str, typer.Argument(help="Delivery ID")]) -> None:
    """Send a failed or dead delivery again, now; exit 0 when it was sent, 1 when not
    (a transient failure stays pending for the runner)."""
    st = state(ctx)

    def mark() -> Delivery:
        with st.transaction() as (conn, org_id):
            return DeliveryStore(conn, org_id).retry(delivery)

    found = guarded(mark)
    db = st.database()
    run_async(st, lambda http: Deliverer(db, st.settings, http).deliver_ids([found.id]))

    def reread() -> Delivery:
        with st.transaction() as (conn, org_id):
            return DeliveryStore(conn, org_id).get(found.id)

    after = guarded(reread)
    if after.status == "sent":
        status = f" HTTP {after.response_status}" if after.response_status else ""
        emit(st, after.public(), f"delivery {after.id}: sent{status}")
        return
    words = notify_words([after])
    if after.status == "pending":
        words += (
            f"; the runner tries again at {after.next_attempt_at.isoformat(timespec='seconds')}"
        )
    emit(st, after.public(), f"delivery {after.id}: not sent ({words})")
    raise typer.Exit(EXIT_RUNTIME)
