"""``tocsin credential ...``: an org's named secrets, for metric sources to reference.

A value is read from standard input (piped) or a hidden prompt, never from the command
line, where it would land in shell history and in every process listing."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tocsin.cli.common import emit, guarded, state, table
from tocsin.credentials import Credential, CredentialStore
from tocsin.errors import InvalidInput

app = typer.Typer(
    help="Credentials: secrets metric sources reference by name (values are write-only).",
    no_args_is_help=True,
)


def _read_value(name: str) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        value = sys.stdin.read()
        # One trailing newline is what `echo` and here-strings add, not part of the secret.
        return value[:-1] if value.endswith("\n") else value
    value = typer.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    return str(value)


@app.command("set")
def set_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="e.g. SHOP_DB or GITHUB_TOKEN")],
) -> None:
    """Create or replace a credential of --org; the value comes from stdin or a prompt."""
    st = state(ctx)

    def run() -> tuple[Credential, bool]:
        value = _read_value(name)
        if not value.strip():
            raise InvalidInput("value", "expected a value on standard input or at the prompt")
        with st.transaction() as (conn, org_id):
            return CredentialStore(conn, org_id).save(name, value)

    found, created = guarded(run)
    emit(
        st,
        {"org": st.org, **found.public(), "created": created},
        f"{'created' if created else 'replaced'} credential {found.name} in org {st.org} "
        f"(reference it as --dsn-credential {found.name} or ${{cred:{found.name}}})",
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The org's credentials: names and dates only, never values."""
    st = state(ctx)

    def run() -> list[Credential]:
        with st.transaction() as (conn, org_id):
            return CredentialStore(conn, org_id).all()

    found = guarded(run)
    emit(
        st,
        [c.public() for c in found],
        lambda: (
            table(
                ["NAME", "CREATED", "UPDATED"],
                [
                    [
                        c.name,
                        c.created_at.isoformat(timespec="seconds"),
                        c.updated_at.isoformat(timespec="seconds"),
                    ]
                    for c in found
                ],
            )
            if found
            else "no credentials yet: try `tocsin credential set NAME` (value on stdin)"
        ),
    )


@app.command("delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="NAME")]) -> None:
    """Delete a credential; metrics that reference it fail their runs until it is set."""
    st = state(ctx)

    def run() -> Credential:
        with st.transaction() as (conn, org_id):
            return CredentialStore(conn, org_id).delete(name)

    found = guarded(run)
    emit(st, {"org": st.org, **found.public(), "deleted": True}, f"deleted credential {name}")
