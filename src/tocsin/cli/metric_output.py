"""What ``tocsin metric ...`` prints for people (``--json`` prints the API's shapes)."""

from __future__ import annotations

from tocsin.alerts.notified import notify_mark
from tocsin.cli.words import expect_words, schedule_words, source_words
from tocsin.execution.runs import RunReport
from tocsin.metrics.definition import FRESH_FIELDS
from tocsin.metrics.freshness import freshness_words
from tocsin.metrics.model import Execution, Metric
from tocsin.metrics.readings import run_words

SHOWN_RUNS = 5


def human_runs(runs: list[Execution], m: Metric) -> str:
    """The newest runs, newest first: when, status, what it read."""
    if not runs:
        return "  last runs: none yet"
    lines = ["  last runs:"]
    for run in runs[:SHOWN_RUNS]:
        at = run.completed_at or run.started_at
        when = at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"    {when}  {run.status:<9}  {run_words(run, m)}")
    return "\n".join(lines)


def human_metric(m: Metric) -> str:
    pub = m.public()
    # Freshness has a line of its own.
    selector = {k: v for k, v in (pub["selector"] or {}).items() if k not in FRESH_FIELDS}
    lines = [
        f"{m.name}  ({m.id})",
        f"  source:   {source_words(m.source)}",
        "  selector: " + (", ".join(f"{k} {v}" for k, v in selector.items()) if selector else "-"),
        f"  schedule: {schedule_words(pub['schedule'])}",
        f"  freshness: {freshness_words(m.selector) or '-'}",
        f"  expects:  {expect_words(m.expect_every_seconds)}",
        f"  enabled:  {m.enabled}",
        f"  next run: {m.next_run_at.isoformat() if m.next_run_at else '-'}",
    ]
    if m.description:
        lines.insert(1, f"  {m.description}")
    return "\n".join(lines)


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
        if h.notified:
            mark = notify_mark([d for d in report.deliveries if d.history_id == h.id])
        else:
            mark = "triggered" if h.triggered else "ok"
        lines.append(f"  alert {h.alert_id}: {h.state_from} -> {h.state_to} [{mark}] {h.reason}")
    for d in report.deliveries:
        extra = f" HTTP {d.response_status}" if d.response_status else ""
        error = f": {d.last_error}" if d.last_error else ""
        lines.append(f"  delivery {d.kind} via {d.action.get('type')}: {d.status}{extra}{error}")
    return "\n".join(lines)
