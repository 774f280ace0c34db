"""How long a runtime loop waits after a failure: 1 s, doubling to 30 s, reset by a
success. One strategy for the embedded loops and the worker's restart loop alike."""

from __future__ import annotations

from dataclasses import dataclass

FIRST_SECONDS = 1.0
MOST_SECONDS = 30.0


@dataclass
class Backoff:
    first: float = FIRST_SECONDS
    most: float = MOST_SECONDS
    _next: float = FIRST_SECONDS

    def __post_init__(self) -> None:
        self._next = self.first

    def failed(self) -> float:
        """The wait before the next try, after one more failure."""
        delay = self._next
        self._next = min(self._next * 2, self.most)
        return delay

    def succeeded(self) -> None:
        self._next = self.first
