"""``tocsin deliveries ...``"""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.alerts.outbox import Delivery, DeliveryStore
from tocsin.cli.common import emit, guarded, state, table

app = typer.Typer(help="Notifications sent, pending and failed.", no_args_is_help=True)


def delivery_rows(found: list[Delivery]) -> str:
    if not found:
        return "no deliveries"
    return table(
        ["CREATED", "KIND", "CHANNEL", "STATUS", "ATTEMPTS", "HTTP", "ERROR", "ID"],
        [
            [
                d.created_at.isoformat(timespec="seconds"),
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
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
) -> None:
    """List deliveries, newest first."""
    st = state(ctx)

    def run() -> list[Delivery]:
        with st.transaction() as (conn, org_id):
            return DeliveryStore(conn, org_id).list(status=status, limit=limit)

    found = guarded(run)
    emit(st, [d.public() for d in found], lambda: delivery_rows(found))


@app.command("retry")
def retry(ctx: typer.Context, delivery: Annotated[str, typer.Argument(help="Delivery ID")]) -> None:
    """Make a failed or dead delivery due again; the runner sends it."""
    st = state(ctx)

    def run() -> Delivery:
        with st.transaction() as (conn, org_id):
            return DeliveryStore(conn, org_id).retry(delivery)

    found = guarded(run)
    emit(st, found.public(), f"delivery {found.id} is pending again")
