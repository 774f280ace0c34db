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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tocsin.errors import InvalidInput
from tocsin.http import HttpClient
from tocsin.settings import Settings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tocsin.sources"


class Reference(NamedTuple):
    """A secret a source reads at fetch time: an org credential or an allowed variable."""

    field: str  # where it is named, e.g. "source.dsn_credential", "source.headers.X"
    kind: Literal["credential", "env"]
    name: str


class SourceConfig(BaseModel):
    """Settings stored in ``metrics.source``. Secrets are not written here: a source names
    a credential of its org (or an allowed environment variable) and reads it at fetch
    time; literal header values are sealed by the store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    def references(self) -> list[Reference]:
        """Every credential and environment variable this source reads."""
        return []


class AllowedEnviron(Mapping[str, str]):
    """The server's environment as a source may see it: only the names the operator
    listed in ``TOCSIN_SOURCE_ENV_ALLOW``, and never a ``TOCSIN_*`` one."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._environ = os.environ if environ is None else environ

    def allowed(self, name: str) -> bool:
        return self._settings.env_allowed(name)

    def __getitem__(self, name: str) -> str:
        if not self.allowed(name):
            raise KeyError(name)
        return self._environ[name]

    def __iter__(self) -> Iterator[str]:
        return (name for name in self._environ if self.allowed(name))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def env_refusal(name: str) -> str:
    """Why a source may not read ``name`` (shown at create and at fetch)."""
    if name.upper().startswith("TOCSIN_"):
        return f"{name} is one of Tocsin's own settings and can never be read by a source"
    return (
        f"environment variable {name} is not allowed: the operator lists the variables "
        "sources may read in TOCSIN_SOURCE_ENV_ALLOW; store it as a credential instead "
        "(`tocsin credential set NAME`)"
    )


@dataclass(frozen=True)
class FetchContext:
    """What a fetch may use besides its own config."""

    settings: Settings
    http: HttpClient
    # Completed executions of this metric so far; the demo series is indexed by it.
    run_number: int = 0
    # Allowed environment variables (an AllowedEnviron in the runtimes). Empty by
    # default: a source never sees the server's environment unless the operator says so.
    environ: Mapping[str, str] = field(default_factory=dict)
    # The opened values of the org credentials this source references, by name.
    credentials: Mapping[str, str] = field(default_factory=dict)
    # Tocsin's own database: a SQL source must never open it, whatever its URL.
    own_database_url: str | None = None

    def credential(self, name: str, used_in: str) -> str:
        found = self.credentials.get(name)
        if found is None:
            raise SourceError(f"credential {name} (used in {used_in}) does not exist in this org")
        return found

    def env(self, name: str, used_in: str) -> str:
        allowed = getattr(self.environ, "allowed", None)
        if name.upper().startswith("TOCSIN_") or (allowed is not None and not allowed(name)):
            raise SourceError(f"{env_refusal(name)} (used in {used_in})")
        found = self.environ.get(name)
        if found is None:
            raise SourceError(f"environment variable {name} (used in {used_in}) is not set")
        return found


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
