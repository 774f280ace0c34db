"""Failure classification shared by every outbound call (HTTP and channels)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from yarl import URL

_TRANSIENT_4XX = frozenset({408, 425, 429})


class HttpError(Exception):
    """An outbound call failed.

    ``transient`` tells the delivery layer whether retrying can help; ``retry_after`` is
    the server's requested wait in seconds, when it gave one. ``message`` never holds
    secrets: URLs in it are reduced to scheme and host.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, transient={self.transient}, "
            f"status={self.status}, retry_after={self.retry_after})"
        )


class UrlRefused(HttpError):
    """The URL is invalid or points at an address the SSRF guard does not allow."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


def redact_url(url: str | URL) -> str:
    """Scheme, host and port only: paths and queries often carry tokens."""
    try:
        parsed = url if isinstance(url, URL) else URL(url)
    except (ValueError, TypeError):
        return "<invalid URL>"
    if not parsed.scheme or not parsed.host:
        return "<invalid URL>"
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = f":{parsed.explicit_port}" if parsed.explicit_port is not None else ""
    return f"{parsed.scheme}://{host}{port}"


def is_transient_status(status: int) -> bool:
    return status >= 500 or status in _TRANSIENT_4XX


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())
