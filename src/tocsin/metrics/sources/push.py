"""Values pushed from outside (``tocsin metric run --value``, the REST ``values`` route)."""

from __future__ import annotations

from typing import Literal

from tocsin.metrics.sources.base import FetchContext, Source, SourceConfig, SourceError, register


class PushConfig(SourceConfig):
    type: Literal["push"] = "push"


@register
class PushSource(Source):
    type = "push"
    Config = PushConfig
    scheduled = False

    async def fetch(self, ctx: FetchContext) -> object:
        # Reaching here means a caller scheduled or "ran" a push metric: say so plainly.
        raise SourceError("push metrics receive values; they are not fetched")
