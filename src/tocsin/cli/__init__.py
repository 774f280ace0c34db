"""The ``tocsin`` command line (README.md, "The command line")."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tocsin.cli import alerts as alert_commands
from tocsin.cli import apikeys as apikey_commands
from tocsin.cli import chat as chat_command
from tocsin.cli import credentials as credential_commands
from tocsin.cli import deliveries as delivery_commands
from tocsin.cli import keys as key_commands
from tocsin.cli import metrics as metric_commands
from tocsin.cli import serve as serve_commands
from tocsin.cli import worker as worker_command
from tocsin.cli.common import JSON_ERRORS, CliState, emit, hoist_global_options, state

app = typer.Typer(
    name="tocsin",
    help="Tocsin: metric alerting and triggers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Schema management.", no_args_is_help=True)
app.add_typer(db_app, name="db")
db_app.command("generate-key")(key_commands.generate)
db_app.command("rotate-key")(key_commands.rotate)
app.add_typer(metric_commands.app, name="metric")
app.add_typer(alert_commands.app, name="alert")
app.add_typer(delivery_commands.app, name="deliveries")
app.add_typer(apikey_commands.app, name="apikey")
app.add_typer(credential_commands.app, name="credential")
app.command("chat")(chat_command.chat)
app.command("worker")(worker_command.worker)


app.command("serve")(serve_commands.serve)
app.command("demo")(serve_commands.demo)


@app.callback()
def _global(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="TOCSIN_DATABASE_URL",
            help="sqlite:///PATH or postgresql://... (default: a file in your data directory)",
            show_envvar=True,
        ),
    ] = None,
    org: Annotated[str, typer.Option("--org", help="Organisation (created on first use).")] = (
        "default"
    ),
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    ctx.obj = CliState(database_url=database_url, org=org, json=json_out)
    JSON_ERRORS.set(json_out)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply every migration to the database."""
    from tocsin.db.migrate import current_revision, head_revision

    st = state(ctx)
    db = st.database(migrate=False)
    # Revision 0006 seals the stored secrets: without a key it cannot.
    key_commands.require_key(db.url)
    db.ensure_schema()
    rev = current_revision(db.engine)
    data: dict[str, object] = {"revision": rev, "head": head_revision()}
    message = f"database at revision {rev} (head)"
    # The Supabase SQL reaches 0006 without sealing anything (it has no key): this does.
    sealed = key_commands.seal_left_plain(db)
    if sealed:
        data["sealed"] = sealed
        message += f"; {sealed} secrets encrypted"
    if not db.is_sqlite:
        # The workers' job queue (Procrastinate's own tables) lives beside Tocsin's.
        from tocsin.execution.job_queue import apply_procrastinate_schema

        applied = apply_procrastinate_schema(db.url)
        data["job_queue"] = "created" if applied else "present"
        message += "; job queue tables " + ("created" if applied else "present")
    from tocsin.metrics.env_audit import unallowed_env_uses

    with db.connect() as conn:
        uses = unallowed_env_uses(conn, st.settings)
    data["env_references"] = [u._asdict() for u in uses]
    if uses:
        message += "\n" + "\n".join(u.advice() for u in uses)
    emit(st, data, message)


@db_app.command("sql")
def db_sql(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the Supabase migration files here.")
    ] = None,
) -> None:
    """Print the PostgreSQL DDL, or write the Supabase migration files."""
    from tocsin.db.supabase import render_files, write_files

    st = state(ctx)
    if out is None:
        typer.echo("".join(render_files().values()), nl=False)
        return
    written = write_files(out)
    emit(st, {"files": [str(p) for p in written]}, "\n".join(f"wrote {p}" for p in written))


def main() -> None:
    app(args=hoist_global_options(sys.argv[1:]), prog_name="tocsin")
