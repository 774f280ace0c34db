"""Process-wide settings, read from ``TOCSIN_*`` environment variables."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tocsin.durations import parse_duration
from tocsin.networks import parse_networks


class SettingsError(Exception):
    """A ``TOCSIN_*`` variable holds a value that cannot be used."""


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("tocsin", appauthor=False))
    return f"sqlite:///{data_dir / 'tocsin.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    # Loopback and private ranges; link-local and cloud metadata stay blocked regardless.
    allow_private_networks: bool = False
    # CIDR ranges outbound requests may reach, comma-separated (tocsin.networks); opens
    # one intranet without opening every private range.
    allowed_networks: str = ""
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("change-me")
    # Web UI: "auto" serves the default org without a login when bound to loopback and
    # asks for an API key otherwise; "required" always asks.
    ui_auth: Literal["auto", "required"] = "auto"

    # Fernet keys, comma-separated, newest first (tocsin.crypto). Without it the
    # embedded default generates one beside its SQLite file; PostgreSQL requires it.
    encryption_key: SecretStr | None = None
    # Environment variables metric sources may reference (``${VAR}``, ``dsn_env``):
    # names or ``PREFIX_*``, comma-separated. Empty: none. Never a TOCSIN_* name.
    source_env_allow: str = ""

    # Outbound HTTP
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # Delivery
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_backoff_base_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # How long a claimed delivery stays invisible to other workers; a worker that dies
    # mid-send leaves it to be retried after this.
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Series one alert may watch: a run with more puts the alert in error, with none of
    # its series half-evaluated.
    max_series_per_alert: int = Field(default=10_000, ge=1, le=1_000_000)

    # Retention (tocsin.db.retention), as durations ("30d", "12h"): evaluations that
    # changed nothing and sent nothing; transitions and what was sent; executions (the
    # newest a lookback still reads are always kept).
    history_retention: timedelta = timedelta(days=30)
    transition_retention: timedelta = timedelta(days=400)
    execution_retention: timedelta = timedelta(days=30)

    # Channels
    slack_bot_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api"
    pagerduty_events_url: str = "https://events.pagerduty.com/v2/enqueue"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "tocsin@localhost"

    @field_validator("public_url", "slack_api_url", "pagerduty_events_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if not value.endswith("/enqueue") else value

    @field_validator(
        "history_retention", "transition_retention", "execution_retention", mode="before"
    )
    @classmethod
    def _retention(cls, value: object) -> object:
        if isinstance(value, str):
            value = timedelta(seconds=parse_duration(value))
        if isinstance(value, timedelta) and value < timedelta(hours=1):
            raise ValueError("expected a duration of at least 1h, such as 30d")
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("source_env_allow")
    @classmethod
    def _env_allow(cls, value: str) -> str:
        for entry in env_allow_entries(value):
            if not _ENV_PATTERN.match(entry):
                raise ValueError(
                    f"{entry!r}: expected variable names or PREFIX_* patterns, comma-separated"
                )
            # A prefix such as TOC* would take in TOCSIN_DATABASE_URL too.
            if entry.upper().startswith("TOCSIN_") or (
                entry.endswith("*") and "TOCSIN_".startswith(entry[:-1].upper())
            ):
                raise ValueError(
                    f"{entry!r}: Tocsin's own TOCSIN_* settings can never be read by a source"
                )
        return value

    def env_allowed(self, name: str) -> bool:
        """Whether a metric source may read the environment variable ``name``."""
        if name.upper().startswith("TOCSIN_"):
            return False
        for entry in env_allow_entries(self.source_env_allow):
            if entry.endswith("*") and name.startswith(entry[:-1]) or name == entry:
                return True
        return False


_ENV_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\*?$")


def env_allow_entries(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def load_settings() -> Settings:
    """Read settings; a bad value raises SettingsError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"TOCSIN_{field.upper()}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
