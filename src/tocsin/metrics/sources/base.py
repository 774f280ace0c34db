"""What every metric source shares: a config model, a registry by ``type``, ``fetch``.

Built-in sources register themselves on import; third parties publish a ``Source``
subclass in the ``tocsin.sources`` entry-point group, loaded once on first use.
"""

from __future__ import annotations

import abc
import builtins
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tocsin.crypto.keyring import Keyring
from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tocsin.sources"


class SourceConfig(BaseModel):
    """Settings stored in ``metrics.source``; never secrets (those live in env vars)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)


@dataclass(frozen=True)
class FetchContext:
    """What a fetch may use besides its own config."""

    settings: Settings
    http: HttpClient
    # Completed executions of this metric so far; the demo series is indexed by it.
    run_number: int = 0
    # Secrets (DSNs, tokens) are read from here at fetch time, never stored with the metric.
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # Opens the sealed header values of a stored source; None for a source given in
    # clear (a library caller's own dict), whose values are used as they are.
    keyring: Keyring | None = None


class SourceError(Exception):
    """A fetch that failed. The message is shown to users: it never holds secrets."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timed_out = timed_out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, timed_out={self.timed_out})"


class Source(abc.ABC):
    """A metric source: one class per ``type``. ``fetch`` returns a JSON-able result."""

    type: ClassVar[str]
    Config: ClassVar[builtins.type[SourceConfig]]
    # Push metrics have no schedule: values arrive from outside.
    scheduled: ClassVar[bool] = True

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    @abc.abstractmethod
    async def fetch(self, ctx: FetchContext) -> object:
        """One reading: a scalar, an object, or ``{"columns": [...], "rows": [[...]]}``.

        Must finish within ``config.timeout_seconds`` (raising
        ``SourceError(timed_out=True)`` when it cannot); every other failure is a
        SourceError whose message is safe to show.
        """


SOURCES: dict[str, type[Source]] = {}
_BUILTIN: set[str] = set()
# Re-entrant: a plugin module may itself validate a source while being imported.
_plugins_lock = threading.RLock()
_plugins_loaded = False


def register(cls: type[Source]) -> type[Source]:
    SOURCES[cls.type] = cls
    _BUILTIN.add(cls.type)
    return cls


def _check_plugin(obj: object) -> type[Source]:
    if not (isinstance(obj, type) and issubclass(obj, Source)):
        raise TypeError(f"expected a tocsin Source subclass, got {obj!r}")
    if getattr(obj, "__abstractmethods__", None):
        raise TypeError(f"{obj.__name__} does not implement fetch()")
    kind = getattr(obj, "type", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{obj.__name__} has no 'type' name")
    config = getattr(obj, "Config", None)
    if not (isinstance(config, type) and issubclass(config, SourceConfig)):
        raise TypeError(f"{obj.__name__}.Config is not a SourceConfig subclass")
    return obj


def load_plugins(
    discover: Callable[[], Iterable[EntryPoint]] | None = None, *, force: bool = False
) -> list[str]:
    """Register the sources of the ``tocsin.sources`` entry points (once per process).

    A plugin that fails to import or is not a proper Source is logged and skipped: one
    broken package must not take every metric down. A plugin cannot replace a built-in
    type, since stored metrics of that type would silently change meaning.
    Returns the types registered by this call.
    """
    global _plugins_loaded
    with _plugins_lock:
        if _plugins_loaded and not force:
            return []
        _plugins_loaded = True
        found = discover() if discover is not None else entry_points(group=ENTRY_POINT_GROUP)
        added: list[str] = []
        for ep in found:
            try:
                cls = _check_plugin(ep.load())
            except Exception:
                log.warning(
                    "skipping metric source plugin %r (%s)", ep.name, ep.value, exc_info=True
                )
                continue
            if cls.type in _BUILTIN:
                log.warning(
                    "skipping metric source plugin %r: type %r is built in", ep.name, cls.type
                )
                continue
            existing = SOURCES.get(cls.type)
            if existing is not None and existing is not cls:
                log.warning(
                    "skipping metric source plugin %r: type %r is already provided by %s",
                    ep.name,
                    cls.type,
                    f"{existing.__module__}.{existing.__qualname__}",
                )
                continue
            SOURCES[cls.type] = cls
            added.append(cls.type)
        return added


def _source_class(raw: Any, field: str) -> type[Source]:
    load_plugins()
    if not isinstance(raw, dict):
        raise InvalidInput(field, "expected an object with a 'type'")
    cls = SOURCES.get(str(raw.get("type")))
    if cls is None:
        raise InvalidInput(f"{field}.type", f"expected one of {', '.join(sorted(SOURCES))}")
    return cls


def _validated(cls: type[Source], raw: dict[str, Any], field: str) -> SourceConfig:
    try:
        return cls.Config.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput.from_validation(exc, field) from None


def validate_source(raw: Any, field: str = "source") -> dict[str, Any]:
    """Validate a source object, returning its normalised form."""
    cls = _source_class(raw, field)
    dumped: dict[str, Any] = _validated(cls, raw, field).model_dump(mode="json")
    return dumped


def build_source(source: dict[str, Any], field: str = "source") -> Source:
    """The Source instance for a stored (or user-given) source object."""
    cls = _source_class(source, field)
    return cls(_validated(cls, source, field))
