"""``tocsin metric ...``"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from tocsin.alerts.destinations import check_source
from tocsin.cli.common import EXIT_RUNTIME, emit, fail, guarded, run_async, state, table, warn
from tocsin.cli.metric_options import flagged, spell
from tocsin.cli.metric_output import SHOWN_RUNS, human_metric, human_run, human_runs
from tocsin.cli.words import schedule_words
from tocsin.errors import InvalidInput
from tocsin.execution.runs import NeedsValue, RunReport, given_reading, run_now
from tocsin.http import HttpClient
from tocsin.metrics.definition import build_definition, metric_changes, parse_headers
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.store import MetricStore

app = typer.Typer(help="Metrics: what Tocsin measures.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Unique name in the org, e.g. 'Open Issues'.")],
    source: Annotated[str, typer.Option("--source", help="push | sql | http | demo")] = "push",
    sql: Annotated[str | None, typer.Option("--sql", help="Query (sql source).")] = None,
    dsn_credential: Annotated[
        str | None,
        typer.Option("--dsn-credential", help="Credential holding the database URL (sql)."),
    ] = None,
    dsn_env: Annotated[
        str | None,
        typer.Option(
            "--dsn-env", help="Env var holding the database URL (if in TOCSIN_SOURCE_ENV_ALLOW)."
        ),
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="JSON endpoint (http source).")] = None,
    method: Annotated[str | None, typer.Option("--method", help="GET or POST.")] = None,
    json_path: Annotated[
        str | None, typer.Option("--json-path", help="JSONPath to the value, e.g. $.count")
    ] = None,
    column: Annotated[str | None, typer.Option("--column", help="Table column.")] = None,
    row: Annotated[
        str | None, typer.Option("--row", help="first | min | max | sum | count")
    ] = None,
    series_by: Annotated[
        list[str] | None,
        typer.Option(
            "--series-by", help="Label column: one series per distinct value (repeatable)."
        ),
    ] = None,
    fresh_column: Annotated[
        str | None,
        typer.Option("--fresh-column", help="Column of each row's time, e.g. updated_at."),
    ] = None,
    fresh_path: Annotated[
        str | None,
        typer.Option("--fresh-path", help="JSONPath to the data's time, e.g. $.updated_at"),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option("--max-age", help="Older data reads as no data: 1h, 30m ..."),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="K=V; V may reference ${cred:NAME} (or an allowed ${VAR})."),
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="30s, 5m, 1h ...")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="For --cron.")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    expect_every: Annotated[
        str | None,
        typer.Option(
            "--expect-every",
            help="A value must arrive this often (10m), else a `missing` run is recorded.",
        ),
    ] = None,
) -> None:
    """Create a metric."""
    st = state(ctx)

    def run() -> Metric:
        try:
            definition = build_definition(
                name,
                source,
                sql=sql,
                dsn_env=dsn_env,
                dsn_credential=dsn_credential,
                url=url,
                method=method,
                json_path=json_path,
                column=column,
                row=row,
                series_by=series_by,
                fresh_column=fresh_column,
                fresh_path=fresh_path,
                max_age=max_age,
                headers=header or [],
                every=every,
                cron=cron,
                timezone=timezone,
                description=description,
                expect_every=expect_every,
                spell=spell,
            )
            warnings.extend(check_source(definition["source"], st.settings))
            with st.transaction() as (conn, org_id):
                return MetricStore(conn, org_id).create(definition)
        except InvalidInput as exc:
            raise flagged(exc) from None

    warnings: list[str] = []
    metric = guarded(run)
    warn(warnings)
    emit(st, metric.public(), lambda: "created metric\n" + human_metric(metric))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the org's metrics."""
    st = state(ctx)

    def run() -> list[Metric]:
        with st.transaction() as (conn, org_id):
            return MetricStore(conn, org_id).list_metrics()

    found = guarded(run)
    emit(
        st,
        [m.public() for m in found],
        lambda: (
            table(
                ["NAME", "SOURCE", "SCHEDULE", "NEXT RUN", "ID"],
                [
                    [
                        m.name,
                        m.source["type"],
                        schedule_words(m.public()["schedule"]),
                        m.next_run_at,
                        m.id,
                    ]
                    for m in found
                ],
            )
            if found
            else 'no metrics yet: try `tocsin metric create "Open Issues" --source push`'
        ),
    )


@app.command("show")
def show(ctx: typer.Context, metric: Annotated[str, typer.Argument(help="NAME or ID")]) -> None:
    """Show one metric."""
    st = state(ctx)

    def run() -> tuple[Metric, list[Execution]]:
        with st.transaction() as (conn, org_id):
            store = MetricStore(conn, org_id)
            found = store.get(metric)
            return found, list(store.executions(found.id, limit=SHOWN_RUNS))

    found, runs = guarded(run)
    emit(st, found.public(), lambda: human_metric(found) + "\n" + human_runs(runs, found))


@app.command("delete")
def delete(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="NAME or ID")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
) -> None:
    """Delete a metric with its executions and alerts (asks first when it has any)."""
    st = state(ctx)

    def inspect() -> tuple[Metric, int, int]:
        with st.transaction() as (conn, org_id):
            store = MetricStore(conn, org_id)
            found = store.get(metric)
            return found, *store.dependents(found.id)

    found, alerts, runs = guarded(inspect)
    if (alerts or runs) and not yes:
        what = f"its {alerts} alert(s) and {runs} run(s)"
        if not sys.stdin.isatty():
            guarded(_refuse(f"{found.name!r} has {what}; deleting removes them: add --yes"))
        if not typer.confirm(f"Delete metric {found.name!r} with {what}?", default=False):
            fail("nothing deleted", EXIT_RUNTIME)

    def run() -> Metric:
        with st.transaction() as (conn, org_id):
            return MetricStore(conn, org_id).delete(found.id)

    gone = guarded(run)
    emit(st, {"deleted": gone.public()}, f"deleted metric {gone.name}")


def _refuse(message: str) -> Callable[[], None]:
    def raise_it() -> None:
        raise InvalidInput("--yes", message)

    return raise_it


@app.command("update")
def update_(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="NAME or ID")],
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    sql: Annotated[str | None, typer.Option("--sql")] = None,
    dsn_credential: Annotated[str | None, typer.Option("--dsn-credential")] = None,
    dsn_env: Annotated[str | None, typer.Option("--dsn-env")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    method: Annotated[str | None, typer.Option("--method")] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", help="K=V; replaces every header.")
    ] = None,
    json_path: Annotated[str | None, typer.Option("--json-path")] = None,
    column: Annotated[str | None, typer.Option("--column")] = None,
    row: Annotated[str | None, typer.Option("--row")] = None,
    series_by: Annotated[
        list[str] | None,
        typer.Option("--series-by", help="Label columns (replace the stored ones)."),
    ] = None,
    fresh_column: Annotated[
        str | None, typer.Option("--fresh-column", help="Replaces a --fresh-path.")
    ] = None,
    fresh_path: Annotated[
        str | None, typer.Option("--fresh-path", help="Replaces a --fresh-column.")
    ] = None,
    max_age: Annotated[
        str | None, typer.Option("--max-age", help="1h ..., or off (no freshness check).")
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="30s, 5m, 1h ...")] = None,
    cron: Annotated[str | None, typer.Option("--cron")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    expect_every: Annotated[
        str | None,
        typer.Option("--expect-every", help="A value must arrive this often (10m), or off."),
    ] = None,
) -> None:
    """Change a metric: only the options given change; bad input changes nothing."""
    st = state(ctx)

    def run() -> Metric:
        try:
            with st.transaction() as (conn, org_id):
                store = MetricStore(conn, org_id)
                current = store.get(metric)
                changes = metric_changes(
                    current,
                    name=name,
                    source={
                        "sql": sql,
                        "dsn_credential": dsn_credential,
                        "dsn_env": dsn_env,
                        "url": url,
                        "method": method.upper() if method else None,
                        "headers": parse_headers(header) if header is not None else None,
                    },
                    selector={
                        "json_path": json_path,
                        "column": column,
                        "row": row,
                        "series_by": series_by,
                        "fresh_column": fresh_column,
                        "fresh_path": fresh_path,
                    },
                    max_age=max_age,
                    every=every,
                    cron=cron,
                    timezone=timezone,
                    enabled=enabled,
                    description=description,
                    expect_every=expect_every,
                    spell=spell,
                )
                if "source" in changes:
                    warnings.extend(check_source(changes["source"], st.settings))
                return store.update(current.id, changes)
        except InvalidInput as exc:
            raise flagged(exc) from None

    warnings: list[str] = []
    found = guarded(run)
    warn(warnings)
    emit(st, found.public(), lambda: "updated metric\n" + human_metric(found))


@app.command("run")
def run(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="NAME or ID")],
    value: Annotated[
        str | None, typer.Option("--value", help="Record this value instead of running.")
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="K=V: the series --value is of (repeatable)."),
    ] = None,
    result: Annotated[
        str | None,
        typer.Option("--result", help="Record a whole result (JSON), as a source returns it."),
    ] = None,
) -> None:
    """Run the metric now (or record --value / --result), evaluate its alerts, deliver."""
    st = state(ctx)
    db = st.database()

    org_id = st.org_id()

    async def go(http: HttpClient) -> RunReport:
        try:
            given = given_reading(value, label or [], result)
            return await run_now(
                db,
                org_id,
                metric,
                settings=st.settings,
                http=http,
                value=given,
                has_value=value is not None or result is not None,
            )
        except NeedsValue:
            raise InvalidInput("--value", "a push metric needs a value: --value 6") from None
        except InvalidInput as exc:
            raise flagged(exc) from None

    report: RunReport = run_async(st, go)
    emit(st, report.public(), lambda: human_run(report))
