"""Templates, their filters, and the responses every page returns."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tocsin.clock import utcnow
from tocsin.durations import format_duration
from tocsin.links import alert_path, metric_path
from tocsin.metrics.series import describe_labels
from tocsin.numbers import format_decimal
from tocsin.web.access import CSRF_FIELD, csrf_token

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"

STATE_LABELS = {
    "ok": "OK",
    "pending": "Pending",
    "triggered": "Triggered",
    "no_data": "No data",
    "error": "Error",
    "muted": "Muted",
    "disabled": "Disabled",
    "notify_failed": "Notification failed",
}


def series_name(labels: dict[str, str] | None) -> str:
    """``{service="api"}``: how a series is named on every page."""
    return describe_labels(labels or {})


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(moment: datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = int((utcnow() - moment).total_seconds())
    if seconds < 0:
        return "in " + format_duration(-seconds)
    if seconds < 5:
        return "just now"
    return format_duration(seconds) + " ago"


def number(value: Decimal | float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, Decimal):
        return format_decimal(value)
    return str(value)


def duration_ms(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "—"
    ms = (end - start).total_seconds() * 1000
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, ago=ago, number=number, series_name=series_name)
    env.globals.update(
        STATE_LABELS=STATE_LABELS,
        duration_ms=duration_ms,
        CSRF_FIELD=CSRF_FIELD,
        # Links to pages come from one module, as in notifications' payloads.
        alert_path=alert_path,
        metric_path=metric_path,
    )
    return env


templates = Jinja2Templates(env=_environment())


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    flash = request.session.pop("flash", None) if not is_htmx(request) else None
    full = {
        "request": request,
        "viewer": viewer,
        "csrf": csrf_token(request),
        "flash": flash,
        "now": utcnow(),
        **context,
    }
    return templates.TemplateResponse(request, name, full, status_code=status_code)


def redirect(request: Request, target: str, *, flash: str | None = None) -> Response:
    """After a form post: back to a page (303, so the browser GETs it)."""
    if flash:
        request.session["flash"] = flash
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
