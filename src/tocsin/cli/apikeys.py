"""``tocsin apikey ...``: keys for the REST API, each scoped to one org."""

from __future__ import annotations

from typing import Annotated

import typer

from tocsin.api.auth import ApiKey, create_api_key, list_api_keys, revoke_api_key
from tocsin.cli.common import emit, guarded, state, table
from tocsin.roles import DEFAULT_ROLE, ROLES, parse_role

app = typer.Typer(help="API keys for the REST API (one org each).", no_args_is_help=True)


def _public(key: ApiKey, org: str) -> dict[str, object]:
    data = key.public()
    data.pop("org_id", None)
    return {"org": org, **data}


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the key is for, e.g. 'grafana'.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help=f"{' | '.join(reversed(ROLES))}: admin also manages credentials and keys; "
            "viewer only reads.",
        ),
    ] = DEFAULT_ROLE,
) -> None:
    """Create a key for --org (created if missing). The key is shown once, never again."""
    st = state(ctx)

    def run() -> tuple[ApiKey, str]:
        chosen = parse_role(role, "--role")
        with st.transaction() as (conn, org_id):
            return create_api_key(conn, org_id, name, chosen)

    found, key = guarded(run)
    emit(
        st,
        {"id": str(found.id), "name": found.name, "org": st.org, "role": found.role, "key": key},
        lambda: (
            f"created {found.role} API key {found.name!r} ({found.id}) for org {st.org}\n"
            f"{key}\n"
            "Store it now: Tocsin keeps only its hash and cannot show it again."
        ),
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the org's keys (prefixes only)."""
    st = state(ctx)

    def run() -> list[ApiKey]:
        with st.transaction() as (conn, org_id):
            return list_api_keys(conn, org_id)

    found = guarded(run)
    emit(
        st,
        [_public(k, st.org) for k in found],
        lambda: (
            table(
                ["NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "REVOKED", "ID"],
                [
                    [
                        k.name,
                        k.role,
                        f"tsn_{k.prefix}_…",
                        k.created_at.isoformat(timespec="seconds"),
                        k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else None,
                        k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else None,
                        k.id,
                    ]
                    for k in found
                ],
            )
            if found
            else "no API keys yet: try `tocsin apikey create --name NAME`"
        ),
    )


@app.command("revoke")
def revoke(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="Key ID or prefix.")]
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    st = state(ctx)

    def run() -> ApiKey:
        with st.transaction() as (conn, org_id):
            return revoke_api_key(conn, org_id, key)

    found = guarded(run)
    emit(st, _public(found, st.org), f"revoked API key {found.name!r} ({found.id})")
