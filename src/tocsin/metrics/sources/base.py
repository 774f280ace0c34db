"""What every metric source shares: a config model, a registry by ``type``."""

from __future__ import annotations

import builtins
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tocsin.errors import InvalidInput


class SourceConfig(BaseModel):
    """Settings stored in ``metrics.source``; never secrets (those live in env vars)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


class Source:
    """A metric source: one class per ``type``. ``fetch`` returns a JSON-able result."""

    type: ClassVar[str]
    Config: ClassVar[builtins.type[SourceConfig]]
    # Push metrics have no schedule: values arrive from outside.
    scheduled: ClassVar[bool] = True

    def __init__(self, config: SourceConfig) -> None:
        self.config = config


SOURCES: dict[str, type[Source]] = {}


def register(cls: type[Source]) -> type[Source]:
    SOURCES[cls.type] = cls
    return cls


def validate_source(raw: Any, field: str = "source") -> dict[str, Any]:
    """Validate a source object, returning its normalised form."""
    if not isinstance(raw, dict):
        raise InvalidInput(field, "expected an object with a 'type'")
    kind = raw.get("type")
    cls = SOURCES.get(str(kind))
    if cls is None:
        raise InvalidInput(f"{field}.type", f"expected one of {', '.join(sorted(SOURCES))}")
    try:
        config = cls.Config.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc, field) from None
    dumped: dict[str, Any] = config.model_dump(mode="json")
    return dumped
