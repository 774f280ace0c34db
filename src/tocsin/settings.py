"""Process-wide settings, read from ``TOCSIN_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A ``TOCSIN_*`` variable holds a value that cannot be used."""


def default_database_url() -> str:
    data_dir = Path(platformdirs.user_data_dir("tocsin", appauthor=False))
    return f"sqlite:///{data_dir / 'tocsin.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    allow_private_networks: bool = False
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr("change-me")
    # Web UI: "auto" serves the default org without a login when bound to loopback and
    # asks for an API key otherwise; "required" always asks.
    ui_auth: Literal["auto", "required"] = "auto"

    # Outbound HTTP
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    # Delivery
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_backoff_base_seconds: float = Field(default=5.0, gt=0)
    delivery_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    # How long a claimed delivery stays invisible to other workers; a worker that dies
    # mid-send leaves it to be retried after this.
    delivery_lease_seconds: float = Field(default=60.0, gt=0, le=3600)

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
