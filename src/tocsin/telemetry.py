"""Tocsin's own Prometheus metrics, served at ``/metrics``.

The evaluator, the delivery engine and the scheduler call the ``record_*`` functions;
they never raise and never block. Everything lives in one dedicated registry (not the
process-global default) so that tests, and several apps in one process, can read and
reset it without clashing with other libraries' collectors.

Label values are folded onto small fixed sets: a label taken verbatim from a reason
text ("cooldown: next notification in 57 min") would create a new time series per message.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = [
    "CONTENT_TYPE_LATEST",
    "REGISTRY",
    "record_delivery",
    "record_evaluation",
    "record_execution",
    "record_scheduler_lateness",
    "render",
]

REGISTRY = CollectorRegistry(auto_describe=True)

_STATES = frozenset({"ok", "pending", "triggered", "no_data", "error"})
_CHANNELS = frozenset({"log", "slack", "webhook", "email", "pagerduty"})
_FAILURE_KINDS = frozenset({"no_data", "error", "recovered"})
_DELIVERY_STATUSES = frozenset({"sent", "failed", "dead", "retry", "pending"})
_EXECUTION_STATUSES = frozenset({"completed", "failed", "timed_out", "missing"})
# Buckets from a fast local call up to the slowest timeouts Tocsin allows.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

EVALUATIONS = Counter(
    "tocsin_alert_evaluations",
    "Alert evaluations recorded, by the state the alert moved to.",
    ["state"],
    registry=REGISTRY,
)
FIRINGS = Counter(
    "tocsin_alert_firings",
    "Evaluations where a trigger notification was due, by whether it was sent.",
    ["notified"],
    registry=REGISTRY,
)
FAILURE_NOTICES = Counter(
    "tocsin_failure_notices",
    "Notices that data broke (no_data, error) or recovered, by kind: one per notice, "
    "however many series it stands for.",
    ["kind"],
    registry=REGISTRY,
)
SUPPRESSIONS = Counter(
    "tocsin_alert_suppressions",
    "Notifications that were due but withheld, by reason (muted, cooldown, out_of_order).",
    ["reason"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "tocsin_deliveries",
    "Delivery attempts, by channel and outcome (sent, retry, failed, dead).",
    ["channel", "status"],
    registry=REGISTRY,
)
DELIVERY_SECONDS = Histogram(
    "tocsin_delivery_seconds",
    "Time one delivery attempt took, by channel.",
    ["channel"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
SCHEDULER_LATENESS = Histogram(
    "tocsin_scheduler_lateness_seconds",
    "How long after its scheduled time a metric execution started.",
    buckets=_LATENESS_BUCKETS,
    registry=REGISTRY,
)
EXECUTIONS = Counter(
    "tocsin_metric_executions",
    "Metric executions finished, by status.",
    ["status"],
    registry=REGISTRY,
)
EXECUTION_SECONDS = Histogram(
    "tocsin_metric_execution_seconds",
    "How long metric executions took, by status.",
    ["status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)


def _fold(value: str | None, allowed: frozenset[str]) -> str:
    text = (value or "").strip().lower()
    return text if text in allowed else "other"


def suppression_category(reason: str) -> str:
    """A reason text such as ``muted until 14:00 UTC`` as a label: ``muted``."""
    text = reason.strip().lower()
    if text.startswith("muted"):
        return "muted"
    if text.startswith("cooldown"):
        return "cooldown"
    if text.startswith(("older execution", "out_of_order", "out of order")):
        return "out_of_order"
    return "other"


def record_evaluation(
    state_to: str, notified: bool, suppressed_reason: str | None, *, count: int = 1
) -> None:
    """One recorded evaluation. A firing is an evaluation into ``triggered`` whose
    trigger notification was either sent (``notified``) or withheld (a reason given)."""
    state = _fold(state_to, _STATES)
    EVALUATIONS.labels(state=state).inc(count)
    if state == "triggered" and (notified or suppressed_reason is not None):
        FIRINGS.labels(notified="true" if notified else "false").inc(count)
    if suppressed_reason is not None:
        SUPPRESSIONS.labels(reason=suppression_category(suppressed_reason)).inc(count)


def record_failure_notice(kind: str, *, count: int = 1) -> None:
    """Failure notices (``no_data``, ``error``) and recoveries an evaluation sent."""
    FAILURE_NOTICES.labels(kind=_fold(kind, _FAILURE_KINDS)).inc(count)


def record_delivery(channel: str, status: str, seconds: float) -> None:
    """One delivery attempt: ``status`` is sent, retry (will be tried again), failed or
    dead; ``seconds`` is how long the attempt took."""
    name = _fold(channel, _CHANNELS)
    DELIVERIES.labels(channel=name, status=_fold(status, _DELIVERY_STATUSES)).inc()
    DELIVERY_SECONDS.labels(channel=name).observe(max(seconds, 0.0))


def record_scheduler_lateness(seconds: float) -> None:
    """How late (started − scheduled_for) a scheduled execution began."""
    SCHEDULER_LATENESS.observe(max(seconds, 0.0))


def record_execution(status: str, seconds: float) -> None:
    """One finished metric execution (completed, failed, timed_out, missing) and its
    duration."""
    label = _fold(status, _EXECUTION_STATUSES)
    EXECUTIONS.labels(status=label).inc()
    EXECUTION_SECONDS.labels(status=label).observe(max(seconds, 0.0))


def render() -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)
