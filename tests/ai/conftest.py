"""Planner tests never reach a real model: the offline parser unless a test hands the
planner a model, and pydantic-ai refuses real model requests."""

from __future__ import annotations

from collections.abc import Iterator

import pydantic_ai.models
import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MODEL", "BASE_URL", "API_KEY"):
        monkeypatch.delenv(f"TOCSIN_LLM_{name}", raising=False)
    monkeypatch.delenv("TOCSIN_PAGERDUTY_ROUTING_KEY", raising=False)
    monkeypatch.setattr(pydantic_ai.models, "ALLOW_MODEL_REQUESTS", False)
    yield
