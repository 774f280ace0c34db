"""A deterministic simulated series, for the demo and for tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from tocsin.metrics.sources.base import FetchContext, Source, SourceConfig, register
from tocsin.numbers import json_number


class DemoConfig(SourceConfig):
    type: Literal["demo"] = "demo"
    # Run n (counting from 0) yields values[n % len(values)]: a fixed, repeatable series.
    values: list[Annotated[Decimal, Field(allow_inf_nan=False)]] = Field(
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

    async def fetch(self, ctx: FetchContext) -> object:
        return json_number(self.value_for_run(ctx.run_number))
