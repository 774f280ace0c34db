"""A JSON endpoint fetched over HTTP through Tocsin's guarded client."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tocsin.metrics.sources.base import Source, SourceConfig, register


class HttpConfig(SourceConfig):
    type: Literal["http"] = "http"
    url: str = Field(max_length=2000)
    method: Literal["GET", "POST"] = "GET"
    body: Any = None
    # Values may name environment variables as ${VAR}: the secret is read at run time.
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value


@register
class HttpSource(Source):
    type = "http"
    Config = HttpConfig
