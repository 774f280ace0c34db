"""Whether a notification reached anyone, in words: "notified" means delivered.

An evaluation that decided to notify has one delivery per action; what the user is told
(the ``metric run`` line, ``alert show``, chat, the UI's badge) follows those deliveries'
real status, never the decision alone. Pure: delivery rows in, words out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class DeliveryLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def attempts(self) -> int: ...
    @property
    def action(self) -> dict[str, Any]: ...
    @property
    def response_status(self) -> int | None: ...
    @property
    def last_error(self) -> str | None: ...


def failure_words(delivery: DeliveryLike) -> str:
    channel = str(delivery.action.get("type", "action"))
    if delivery.response_status:
        return f"{channel} HTTP {delivery.response_status}"
    return f"{channel}: {delivery.last_error}" if delivery.last_error else channel


def notify_mark(deliveries: Sequence[DeliveryLike]) -> str:
    """``NOTIFIED`` only when every delivery was sent; else what stands in the way.

    The worst state wins: a failed or dead delivery (``NOTIFY FAILED: webhook HTTP 404``),
    then one being retried (``RETRYING: webhook HTTP 500, attempt 1``), then one not yet
    attempted (``QUEUED``)."""
    if not deliveries:
        return "NOTIFIED"
    broken = [d for d in deliveries if d.status in ("failed", "dead")]
    if broken:
        return "NOTIFY FAILED: " + "; ".join(failure_words(d) for d in broken)
    retrying = [d for d in deliveries if d.status == "pending" and d.attempts > 0]
    if retrying:
        return "RETRYING: " + "; ".join(
            f"{failure_words(d)}, attempt {d.attempts}" for d in retrying
        )
    if any(d.status == "pending" for d in deliveries):
        return "QUEUED"
    return "NOTIFIED"


_WORDS = {"NOTIFY FAILED": "notification failed", "RETRYING": "retrying", "QUEUED": "queued"}


def notify_words(deliveries: Sequence[DeliveryLike]) -> str:
    """``notify_mark`` in a sentence's words: ``notified``, ``notification failed: webhook
    HTTP 404``, ``retrying: …``, ``queued``."""
    mark = notify_mark(deliveries)
    head, sep, rest = mark.partition(": ")
    return _WORDS.get(head, head.lower()) + sep + rest
