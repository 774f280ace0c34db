"""The runtimes' one backoff: 1 s doubling to 30 s, reset by a success."""

from __future__ import annotations

from tocsin.execution.backoff import Backoff


def test_failures_double_the_wait_up_to_the_cap_and_a_success_starts_over() -> None:
    backoff = Backoff()
    assert [backoff.failed() for _ in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.succeeded()
    assert backoff.failed() == 1.0
