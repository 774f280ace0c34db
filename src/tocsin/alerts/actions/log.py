"""``{"type": "log"}``: a structured log line on the ``tocsin.actions`` logger.

The fields ride in ``extra`` (alert, alert_id, metric, metric_id, value, baseline_value,
condition, state, reason, kind, evaluated_at) so JSON log formatters pick them up.
"""

from __future__ import annotations

import logging
from typing import Literal

from tocsin.alerts.actions.base import (
    ActionModel,
    Channel,
    Notification,
    NotificationKind,
    SendResult,
    details,
    kind_label,
    summary_line,
)

logger = logging.getLogger("tocsin.actions")

# A firing, and a metric that cannot be read, are what an operator tailing logs should
# notice; the rest is news that things are fine (or a test).
_LEVELS: dict[NotificationKind, int] = {
    "trigger": logging.WARNING,
    "no_data": logging.WARNING,
    "error": logging.WARNING,
    "resolve": logging.INFO,
    "recovered": logging.INFO,
    "test": logging.INFO,
}


class LogConfig(ActionModel):
    type: Literal["log"] = "log"


class LogChannel(Channel[LogConfig]):
    type = "log"
    Config = LogConfig

    async def send(self, notification: Notification) -> SendResult:
        logger.log(
            _LEVELS[notification.kind],
            "alert %s: %s",
            kind_label(notification.kind).lower(),
            summary_line(notification),
            extra=details(notification),
        )
        return SendResult(status_code=None, detail="logged")
