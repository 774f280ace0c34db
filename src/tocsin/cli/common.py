"""What every command shares: global options, the database, output, exit codes."""

from __future__ import annotations

import contextvars
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import typer
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from tocsin.crypto.keyring import EncryptionKeyError
from tocsin.db.database import Database
from tocsin.db.engine import DatabaseUrlError
from tocsin.db.migrate import current_revision, head_revision
from tocsin.errors import Conflict, InvalidInput, NotFound, TocsinError
from tocsin.orgs import get_or_create_org
from tocsin.settings import Settings, SettingsError, load_settings

EXIT_RUNTIME = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")


@dataclass
class CliState:
    database_url: str | None = None
    org: str = "default"
    json: bool = False
    _settings: Settings | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except SettingsError as exc:
                fail(str(exc), EXIT_BAD_INPUT)
        return self._settings

    def url(self) -> str:
        return self.database_url or self.settings.database_url

    def database(self, *, migrate: bool = True) -> Database:
        if self._db is None:
            try:
                db = Database(self.url())
            except DatabaseUrlError as exc:
                fail(f"--database-url: {exc}", EXIT_BAD_INPUT)
            if migrate:
                prepare_schema(db)
            self._db = db
        return self._db

    def org_id(self) -> uuid.UUID:
        """This org's id (created on first use); errors translated like any command's."""

        def find() -> uuid.UUID:
            with self.transaction() as (_conn, org_id):
                return org_id

        return guarded(find)

    @contextmanager
    def transaction(self) -> Iterator[tuple[Connection, uuid.UUID]]:
        """A transaction in this org (created on first use)."""
        with self.database().begin() as conn:
            yield conn, get_or_create_org(conn, self.org)


def prepare_schema(db: Database) -> None:
    """The embedded file is upgraded on first use; PostgreSQL is the operator's call."""
    try:
        current = current_revision(db.engine)
        if current == head_revision():
            return
        if db.is_sqlite:
            db.ensure_schema()
            return
    except OperationalError as exc:
        fail(f"cannot reach the database: {exc.orig}", EXIT_RUNTIME)
    fail(
        f"the database schema is at {current or 'nothing'}, not {head_revision()}: "
        "run `tocsin db upgrade` first",
        EXIT_RUNTIME,
    )


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


# Set by the root command when --json was given: errors are JSON too, on stderr.
JSON_ERRORS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tocsin_json_errors", default=False
)


def fail(message: str, code: int = EXIT_RUNTIME, *, field: str | None = None) -> NoReturn:
    if JSON_ERRORS.get():
        error: dict[str, str] = (
            {"field": field, "message": message} if field else {"message": message}
        )
        typer.echo(json.dumps({"error": error}), err=True)
    else:
        typer.echo(f"error: {f'{field}: ' if field else ''}{message}", err=True)
    raise typer.Exit(code)


def emit(st: CliState, data: Any, human: Callable[[], str] | str) -> None:
    if st.json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        typer.echo(human() if callable(human) else human)


def in_org(st: CliState, fn: Callable[[Connection, uuid.UUID], T]) -> T:
    """``fn`` in a transaction of the CLI's org, core errors translated (``guarded``)."""

    def run() -> T:
        with st.transaction() as (conn, org_id):
            return fn(conn, org_id)

    return guarded(run)


def guarded(fn: Callable[[], T]) -> T:
    """Translate core errors into exit codes and messages."""
    try:
        return fn()
    except InvalidInput as exc:
        # The first field leads; the others follow in its message, as in the human form.
        rest = "; ".join(f"{f}: {m}" for f, m in exc.errors[1:])
        fail(exc.message + (f"; {rest}" if rest else ""), EXIT_BAD_INPUT, field=exc.field)
    except (NotFound, Conflict, EncryptionKeyError) as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except TocsinError as exc:
        fail(str(exc), EXIT_RUNTIME)
    except OperationalError as exc:
        fail(f"database error: {exc.orig}", EXIT_RUNTIME)


GLOBAL_FLAGS = {"--json"}
GLOBAL_VALUES = {"--database-url", "--org"}


def hoist_global_options(argv: list[str]) -> list[str]:
    """Let global options appear anywhere: ``tocsin alert show A --json``."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS or name in GLOBAL_VALUES and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_VALUES and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def warn(warnings: list[str]) -> None:
    """What was saved but may fail later, on stderr (stdout stays the answer)."""
    for warning in warnings:
        stderr(f"warning: {warning}")


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


def run_async(st: CliState, make: Callable[[Any], Any]) -> Any:
    """Run a coroutine that needs the shared HTTP client; errors translated as usual."""
    import asyncio

    from tocsin.http import HttpClient

    async def go() -> Any:
        async with HttpClient(st.settings) as http:
            return await make(http)

    return guarded(lambda: asyncio.run(go()))
