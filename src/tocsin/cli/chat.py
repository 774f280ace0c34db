"""``tocsin chat "MESSAGE" [--yes] [--dry-run]``: the chat planner on the command line."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from tocsin.ai.planner import Plan
from tocsin.ai.service import can_commit, commit, propose, respond
from tocsin.cli.common import guarded, state
from tocsin.cli.common import table as render_table


def _interactive() -> bool:
    return sys.stdin.isatty()


def chat(
    ctx: typer.Context,
    message: Annotated[
        str, typer.Argument(help='e.g. "Notify me on Slack #ops if Open Issues > 5"')
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Save without asking.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; never save anything.")
    ] = False,
) -> None:
    """Create, list, mute or explain alerts from a sentence. Nothing is saved unconfirmed."""
    st = state(ctx)
    db = st.database()

    org_id = st.org_id()
    result: Plan = guarded(lambda: propose(db, org_id, message))
    applied: dict[str, Any] = {}
    if not st.json:
        typer.echo(_human(result))
    if can_commit(result) and not dry_run:
        what = "Create this alert?" if result.draft is not None else "Mute this alert?"
        # With --json stdout is for the machine: no prompt there, only --yes saves.
        if yes or (not st.json and _interactive() and typer.confirm(what, default=False)):
            applied = guarded(lambda: commit(db, org_id, result))
        elif not st.json:
            typer.echo(_not_saved(result, asked=_interactive()))
    if st.json:
        typer.echo(json.dumps(respond(result, dry_run=dry_run, applied=applied), indent=2))
    elif applied.get("saved"):
        saved = applied["saved"]
        typer.echo(f"created alert {saved['name']} ({saved['id']})")
    elif applied.get("muted"):
        muted = applied["muted"]
        typer.echo(f"muted {muted['name']} until {muted['muted_until']}")
    elif dry_run and can_commit(result):
        typer.echo("dry run: nothing saved")


def _not_saved(result: Plan, *, asked: bool) -> str:
    thing = "alert not created" if result.draft is not None else "alert not muted"
    if asked:
        return f"{thing}."
    return f"{thing}: no terminal to confirm on. Re-run with --yes to confirm."


def _human(result: Plan) -> str:
    if result.question is not None:
        return result.question
    lines: list[str] = []
    if result.draft is not None and result.metric is not None:
        d = result.draft
        lines += [
            f'Draft alert "{d.name}" on {result.metric.name}',
            f"  {result.summary}",
        ]
        if result.dry_run:
            lines.append(f"  dry run:  {result.dry_run['text']}")
        if result.backtest:
            lines.append(f"  backtest: {result.backtest['text']}")
    elif result.alerts is not None:
        rows = [[a.name, a.state, a.enabled, a.id] for a in result.alerts]
        lines.append(
            render_table(["NAME", "STATE", "ENABLED", "ID"], rows) if rows else "no alerts yet"
        )
    elif result.metrics is not None:
        rows = [[m.name, m.description or "-", m.id] for m in result.metrics]
        lines.append(render_table(["NAME", "DESCRIPTION", "ID"], rows) if rows else "no metrics")
    elif result.summary:
        lines.append(result.summary)
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)
