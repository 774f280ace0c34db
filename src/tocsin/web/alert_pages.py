"""The alerts page and an alert's page, with the buttons that act on an alert."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select

from tocsin.alerts.last_delivery import delivery_failed
from tocsin.alerts.model import HistoryRow
from tocsin.alerts.outbox import DeliveryStore
from tocsin.alerts.rules import rule_of
from tocsin.alerts.store import AlertStore
from tocsin.alerts.words import condition_words, rule_notes
from tocsin.api.routes.common import SortKey, page
from tocsin.clock import utcnow
from tocsin.db.schema import alert_history
from tocsin.durations import check_mute_seconds, parse_duration
from tocsin.errors import InvalidInput
from tocsin.execution.runs import send_test
from tocsin.links import alert_path
from tocsin.metrics.store import MetricStore, as_uuid
from tocsin.web.access import Viewer
from tocsin.web.chart import RANGE_LABELS, RANGES, ChartData, EventKind, LinesData, event_kind
from tocsin.web.deps import DbDep, FormDep, HttpDep, SettingsDep, ViewerDep
from tocsin.web.queries import FILTER_STATES, LIST_PAGE, alert_rows, chart_data
from tocsin.web.render import redirect, render
from tocsin.web.series import series_chart_data, series_table, top_series_chart_data

router = APIRouter()

HISTORY_PAGE = 50


StateFilter = Annotated[str | None, Query(max_length=20)]
MetricFilter = Annotated[str | None, Query(max_length=200)]
TextFilter = Annotated[str | None, Query(max_length=200, description="Part of a name.")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]
SeriesChoice = Annotated[
    str | None, Query(max_length=40, description="A series' id, or top: the top 10 as lines.")
]
TOP = "top"


def _series_choice(raw: str | None) -> uuid.UUID | None:
    """The series a page or its chart is asked for; None for none or the top lines."""
    if raw is None or raw in ("", TOP):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("series", "expected a series id or top") from None


def listing(
    who: ViewerDep,
    db: DbDep,
    state: StateFilter = None,
    metric: MetricFilter = None,
    q: TextFilter = None,
    page: PageNumber = 1,
) -> dict[str, Any]:
    """A page of the list under its filters (unknown states and metrics filter nothing):
    the alerts page and its live refresh both read it."""
    state = state if state in FILTER_STATES else None
    metric = metric or None
    q = (q or "").strip() or None
    with db.connect() as conn:
        found = alert_rows(
            conn,
            who.org_id,
            now=utcnow(),
            state=state,
            metric_id=as_uuid(metric) if metric else None,
            text=q,
            limit=LIST_PAGE,
            offset=(page - 1) * LIST_PAGE,
        )
    filters = {"state": state or "", "metric": metric or "", "q": q or ""}
    return {
        "rows": found.rows,
        "total": found.total,
        "page": page,
        "pages": max(1, -(-found.total // LIST_PAGE)),
        "first": (page - 1) * LIST_PAGE + 1,
        "query": urlencode(filters),
        **filters,
    }


ListingDep = Annotated[dict[str, Any], Depends(listing)]


@router.get("/", response_class=HTMLResponse)
def alerts_page(request: Request, who: ViewerDep, db: DbDep, found: ListingDep) -> HTMLResponse:
    with db.connect() as conn:
        metrics = MetricStore(conn, who.org_id).list_metrics()  # the metric filter's choices
    return render(request, "alerts.html", {**found, "metrics": metrics})


@router.get("/alerts/table", response_class=HTMLResponse)
def alerts_table(request: Request, found: ListingDep) -> HTMLResponse:
    """The list's rows alone: what the open page re-fetches to stay live."""
    return render(request, "_alert_rows.html", found)


def _history(
    db: DbDep,
    org_id: uuid.UUID,
    alert_id: uuid.UUID,
    cursor: str | None,
    series_id: uuid.UUID | None = None,
) -> tuple[list[tuple[HistoryRow, EventKind | None]], str | None]:
    ah = alert_history
    query = select(ah).where(ah.c.org_id == org_id, ah.c.alert_id == alert_id)
    if series_id is not None:
        query = query.where(ah.c.series_id == series_id)
    keys = [SortKey(ah.c.evaluated_at, "time", descending=True), SortKey(ah.c.id, "uuid")]
    with db.connect() as conn:
        found, nxt = page(conn, query, keys, limit=HISTORY_PAGE, cursor=cursor)
    rows = [HistoryRow.model_validate(r._asdict()) for r in found]
    marked = [(h, event_kind(h.state_from, h.state_to, h.notified, h.reason)) for h in rows]
    return marked, nxt


def _alert_page(
    request: Request,
    who: Viewer,
    db: DbDep,
    alert_id: str,
    range: str = "24h",
    *,
    mute_error: str | None = None,
    mute_value: str = "",
    sort: str = "state",
    label: str = "",
    series: uuid.UUID | None = None,
) -> HTMLResponse:
    with db.connect() as conn:
        alert = AlertStore(conn, who.org_id).get_alert(alert_id)
        metric = MetricStore(conn, who.org_id).get(alert.metric_id)
        deliveries = DeliveryStore(conn, who.org_id).list(alert_id=alert.id, limit=20)
        table = series_table(conn, who.org_id, alert.id, sort=sort, label=label, chosen=series)
    # With a series chosen, its own evaluations.
    chosen = table.chosen.id if table.chosen is not None and series is not None else None
    history, nxt = _history(db, who.org_id, alert.id, None, chosen)
    now = utcnow()
    context = {
        "alert": alert,
        "metric": metric,
        "words": "; ".join(
            [condition_words(metric.name, rule_of(alert)), *rule_notes(rule_of(alert))]
        ),
        "muted": alert.muted_until is not None and alert.muted_until > now,
        # Newest first, as last_deliveries orders them for the list's badge.
        "notify_failed": delivery_failed(deliveries[0] if deliveries else None),
        "history": history,
        "next_cursor": nxt,
        "deliveries": deliveries,
        "range": range if range in RANGES else "24h",
        "ranges": RANGE_LABELS,
        "mute_error": mute_error,
        "mute_value": mute_value,
        "series": table,
        "chosen_series": chosen,
    }
    return render(request, "alert.html", context, 422 if mute_error else 200)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    who: ViewerDep,
    db: DbDep,
    alert_id: str,
    range: Annotated[str, Query(max_length=10)] = "24h",
    sort: Annotated[str, Query(max_length=10)] = "state",
    label: Annotated[str, Query(max_length=200)] = "",
    series: SeriesChoice = None,
) -> HTMLResponse:
    """An alert with series charts the chosen one, or with none chosen its top 10 as
    lines; an alert of one series charts its metric's runs with the alert's events."""
    chosen = _series_choice(series)
    return _alert_page(request, who, db, alert_id, range, sort=sort, label=label, series=chosen)


@router.get("/alerts/{alert_id}/chart.json")
def alert_chart(
    who: ViewerDep,
    db: DbDep,
    alert_id: str,
    range: Annotated[str, Query(max_length=10)] = "24h",
    series: SeriesChoice = None,
) -> JSONResponse:
    """Without ``series`` the metric's runs with the alert's events; ``series=ID`` that
    series' evaluations with its events; ``series=top`` the top 10 series as lines."""
    if range not in RANGES:
        raise InvalidInput("range", f"expected one of {', '.join(RANGES)}")
    chosen = _series_choice(series)
    with db.connect() as conn:
        alert = AlertStore(conn, who.org_id).get_alert(alert_id)
        data: ChartData | LinesData
        if series == TOP:
            data = top_series_chart_data(conn, who.org_id, alert, range, now=utcnow())
        elif chosen is None:
            data = chart_data(conn, who.org_id, alert, range, now=utcnow())
        else:
            data = series_chart_data(conn, who.org_id, alert, chosen, range, now=utcnow())
    return JSONResponse(data.public())


@router.get("/alerts/{alert_id}/history", response_class=HTMLResponse)
def alert_history_rows(
    request: Request,
    who: ViewerDep,
    db: DbDep,
    alert_id: str,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    series: uuid.UUID | None = None,
) -> HTMLResponse:
    with db.connect() as conn:
        alert = AlertStore(conn, who.org_id).get_alert(alert_id)
    history, nxt = _history(db, who.org_id, alert.id, cursor, series)
    context = {"alert": alert, "history": history, "next_cursor": nxt, "chosen_series": series}
    return render(request, "_history_rows.html", context)


def _mute_until(form: FormDep) -> timedelta:
    choice = str(form.get("for", "")).strip()
    if not choice:
        raise InvalidInput("for", "expected a duration such as 30m, 1h or 1d")
    try:
        return timedelta(seconds=check_mute_seconds(parse_duration(choice)))
    except ValueError as exc:
        raise InvalidInput("for", str(exc)) from None


@router.post("/alerts/{alert_id}/mute")
def mute(request: Request, who: ViewerDep, db: DbDep, form: FormDep, alert_id: str) -> Response:
    try:
        span = _mute_until(form)
    except InvalidInput as exc:
        # The page again, the duration as typed and what is wrong with it beside it.
        typed = str(form.get("for", ""))[:100]
        return _alert_page(request, who, db, alert_id, mute_error=exc.message, mute_value=typed)
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).mute(alert_id, utcnow() + span)
    return redirect(request, alert_path(alert.id), flash=f"Muted for {form.get('for')}.")


@router.post("/alerts/{alert_id}/unmute")
def unmute(request: Request, who: ViewerDep, db: DbDep, form: FormDep, alert_id: str) -> Response:
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).mute(alert_id, None)
    return redirect(request, alert_path(alert.id), flash="Unmuted.")


@router.post("/alerts/{alert_id}/enable")
def enable(request: Request, who: ViewerDep, db: DbDep, form: FormDep, alert_id: str) -> Response:
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).set_enabled(alert_id, True)
    return redirect(request, alert_path(alert.id), flash="Enabled.")


@router.post("/alerts/{alert_id}/disable")
def disable(request: Request, who: ViewerDep, db: DbDep, form: FormDep, alert_id: str) -> Response:
    with db.begin() as conn:
        alert = AlertStore(conn, who.org_id).set_enabled(alert_id, False)
    return redirect(request, alert_path(alert.id), flash="Disabled.")


@router.post("/alerts/{alert_id}/delete")
def delete(request: Request, who: ViewerDep, db: DbDep, form: FormDep, alert_id: str) -> Response:
    with db.begin() as conn:
        gone = AlertStore(conn, who.org_id).delete_alert(alert_id)
    return redirect(request, "/ui/", flash=f"Deleted {gone.name!r} and its history.")


@router.post("/alerts/{alert_id}/test")
async def test(
    request: Request,
    who: ViewerDep,
    db: DbDep,
    cfg: SettingsDep,
    http: HttpDep,
    form: FormDep,
    alert_id: str,
) -> Response:
    sent = await send_test(db, who.org_id, alert_id, settings=cfg, http=http)
    if not sent:
        return redirect(request, alert_path(alert_id), flash="This alert has no actions.")
    shown = ", ".join(f"{d.action.get('type')}: {d.status}" for d in sent)
    return redirect(request, alert_path(sent[0].alert_id), flash=f"Test sent ({shown}).")


@router.post("/deliveries/{delivery_id}/retry")
def retry(request: Request, who: ViewerDep, db: DbDep, form: FormDep, delivery_id: str) -> Response:
    with db.begin() as conn:
        delivery = DeliveryStore(conn, who.org_id).retry(delivery_id)
    return redirect(request, alert_path(delivery.alert_id), flash="Queued for another attempt.")
