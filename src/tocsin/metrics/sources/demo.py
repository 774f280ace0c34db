"""A deterministic simulated series, for the demo and for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from tocsin.metrics.sources.base import Source, SourceConfig, register


class DemoConfig(SourceConfig):
    type: Literal["demo"] = "demo"
    # Run n (counting from 0) yields values[n % len(values)]: a fixed, repeatable series.
    values: list[Decimal] = Field(
        default_factory=lambda: [Decimal(v) for v in (2, 3, 4, 5, 6, 7, 8, 4, 3)],
        min_length=1,
        max_length=1000,
    )


@register
class DemoSource(Source):
    type = "demo"
    Config = DemoConfig

    def value_for_run(self, run_number: int) -> Decimal:
        assert isinstance(self.config, DemoConfig)
        return self.config.values[run_number % len(self.config.values)]
