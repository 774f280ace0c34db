"""A third-party metric source, as a plugin package would ship it (loaded by entry point)."""

from __future__ import annotations

from typing import Literal

from tocsin.metrics.sources import FetchContext, Source, SourceConfig


class ConstantConfig(SourceConfig):
    type: Literal["constant"] = "constant"
    value: int


class MySource(Source):
    type = "constant"
    Config = ConstantConfig

    async def fetch(self, ctx: FetchContext) -> object:
        assert isinstance(self.config, ConstantConfig)
        return self.config.value


class NotASource:
    type = "bogus"


class Unfinished(Source):
    """Forgets fetch(): must be refused at load time, not at the first scheduled run."""

    type = "unfinished"
    Config = ConstantConfig


class ShadowsSql(MySource):
    type = "sql"
