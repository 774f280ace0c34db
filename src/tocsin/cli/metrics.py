"""``tocsin metric ...``"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tocsin.cli.common import emit, guarded, run_async, state, table
from tocsin.durations import parse_duration
from tocsin.errors import InvalidInput
from tocsin.execution.runs import RunReport, parse_value, run_now
from tocsin.metrics.model import Metric
from tocsin.metrics.store import MetricStore

app = typer.Typer(help="Metrics: what Tocsin measures.", no_args_is_help=True)


def parse_headers(pairs: list[str]) -> dict[str, str]:
    headers = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("--header", f"{pair!r}: expected NAME=VALUE")
        headers[key.strip()] = value
    return headers


def build_definition(
    name: str,
    source: str,
    *,
    sql: str | None,
    dsn_env: str | None,
    url: str | None,
    method: str | None,
    json_path: str | None,
    column: str | None,
    row: str | None,
    headers: list[str],
    every: str | None,
    cron: str | None,
    timezone: str | None,
    description: str,
    dsn_credential: str | None = None,
) -> dict[str, Any]:
    src: dict[str, Any] = {"type": source}
    if source == "sql":
        if (dsn_credential is None) == (dsn_env is None):
            raise InvalidInput(
                "--dsn-credential",
                "expected the name of a credential holding the database URL "
                "(`tocsin credential set SHOP_DB`), or --dsn-env, exactly one",
            )
        src |= {"sql": sql}
        src |= {"dsn_credential": dsn_credential} if dsn_credential else {"dsn_env": dsn_env}
    elif source == "http":
        src |= {"url": url, "headers": parse_headers(headers)}
        if method:
            src["method"] = method.upper()
    for flag, value, allowed in (
        ("--sql", sql, "sql"),
        ("--dsn-env", dsn_env, "sql"),
        ("--dsn-credential", dsn_credential, "sql"),
        ("--url", url, "http"),
        ("--method", method, "http"),
    ):
        if value is not None and source != allowed:
            raise InvalidInput(flag, f"applies to --source {allowed} only")
    if headers and source != "http":
        raise InvalidInput("--header", "applies to --source http only")
    if every and cron:
        raise InvalidInput("--every", "give either --every or --cron, not both")
    schedule: dict[str, Any] | None = None
    if every:
        try:
            schedule = {"every_seconds": parse_duration(every)}
        except ValueError as exc:
            raise InvalidInput("--every", str(exc)) from None
    elif cron:
        schedule = {"cron": cron, "timezone": timezone or "UTC"}
    elif timezone:
        raise InvalidInput("--timezone", "applies to --cron schedules only")
    selector: dict[str, Any] | None = None
    if json_path or column or row:
        selector = {"json_path": json_path, "column": column, "row": row or "first"}
    return {
        "name": name,
        "description": description,
        "source": src,
        "selector": selector,
        "schedule": schedule,
    }


FLAG_NAMES = {
    "source.sql": "--sql",
    "source.dsn_env": "--dsn-env",
    "source.dsn_credential": "--dsn-credential",
    "source.url": "--url",
    "source.type": "--source",
    "selector.json_path": "--json-path",
    "selector.column": "--column",
    "selector.row": "--row",
    "schedule.cron": "--cron",
    "schedule.timezone": "--timezone",
    "schedule.every_seconds": "--every",
    "name": "NAME",
}


def _flagged(exc: InvalidInput) -> InvalidInput:
    """Name the CLI flag, not the stored field, in messages for CLI users."""
    errors = [
        ("--header" if f.startswith("source.headers") else FLAG_NAMES.get(f, f), m)
        for f, m in exc.errors
    ]
    return InvalidInput(errors[0][0], errors[0][1], more=errors[1:])


def human_metric(m: Metric) -> str:
    pub = m.public()
    lines = [
        f"{m.name}  ({m.id})",
        f"  source:   {pub['source']}",
        f"  selector: {pub['selector'] or '-'}",
        f"  schedule: {pub['schedule'] or '-'}",
        f"  enabled:  {m.enabled}",
        f"  next run: {m.next_run_at.isoformat() if m.next_run_at else '-'}",
    ]
    if m.description:
        lines.insert(1, f"  {m.description}")
    return "\n".join(lines)


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
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="K=V; V may reference ${cred:NAME} (or an allowed ${VAR})."),
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="30s, 5m, 1h ...")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help="Cron expression.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="For --cron.")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
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
                headers=header or [],
                every=every,
                cron=cron,
                timezone=timezone,
                description=description,
            )
            with st.transaction() as (conn, org_id):
                return MetricStore(conn, org_id).create(definition)
        except InvalidInput as exc:
            raise _flagged(exc) from None

    metric = guarded(run)
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
                    [m.name, m.source["type"], m.public()["schedule"], m.next_run_at, m.id]
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

    def run() -> Metric:
        with st.transaction() as (conn, org_id):
            return MetricStore(conn, org_id).get(metric)

    found = guarded(run)
    emit(st, found.public(), lambda: human_metric(found))


@app.command("delete")
def delete(ctx: typer.Context, metric: Annotated[str, typer.Argument(help="NAME or ID")]) -> None:
    """Delete a metric with its executions and alerts."""
    st = state(ctx)

    def run() -> Metric:
        with st.transaction() as (conn, org_id):
            return MetricStore(conn, org_id).delete(metric)

    gone = guarded(run)
    emit(st, {"deleted": gone.public()}, f"deleted metric {gone.name}")


def human_run(report: RunReport) -> str:
    ex = report.execution
    pub = ex.public()
    lines = [
        f"execution {ex.id}: {ex.status}"
        + (f", value {pub['value']}" if ex.value is not None else "")
        + (f" ({ex.error})" if ex.error else "")
    ]
    if not report.evaluations:
        lines.append("no enabled alerts on this metric")
    for h in report.evaluations:
        mark = "NOTIFIED" if h.notified else ("triggered" if h.triggered else "ok")
        lines.append(f"  alert {h.alert_id}: {h.state_from} -> {h.state_to} [{mark}] {h.reason}")
    for d in report.deliveries:
        extra = f" HTTP {d.response_status}" if d.response_status else ""
        error = f": {d.last_error}" if d.last_error else ""
        lines.append(f"  delivery {d.kind} via {d.action.get('type')}: {d.status}{extra}{error}")
    return "\n".join(lines)


@app.command("run")
def run(
    ctx: typer.Context,
    metric: Annotated[str, typer.Argument(help="NAME or ID")],
    value: Annotated[
        str | None, typer.Option("--value", help="Record this value instead of running.")
    ] = None,
) -> None:
    """Run the metric now (or record --value), evaluate its alerts, deliver."""
    st = state(ctx)
    db = st.database()

    org_id = st.org_id()
    report: RunReport = run_async(
        st,
        lambda http: run_now(
            db,
            org_id,
            metric,
            settings=st.settings,
            http=http,
            value=parse_value(value) if value is not None else None,
            has_value=value is not None,
        ),
    )
    emit(st, report.public(), lambda: human_run(report))
