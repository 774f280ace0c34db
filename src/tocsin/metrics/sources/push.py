"""Values pushed from outside (``tocsin metric run --value``, the REST ``values`` route)."""

from __future__ import annotations

from typing import Literal

from tocsin.metrics.sources.base import Source, SourceConfig, register


class PushConfig(SourceConfig):
    type: Literal["push"] = "push"


@register
class PushSource(Source):
    type = "push"
    Config = PushConfig
    scheduled = False
