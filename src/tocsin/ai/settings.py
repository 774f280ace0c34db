"""The planner's own settings (``TOCSIN_LLM_*``), apart from the process-wide ones."""

from __future__ import annotations

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tocsin.errors import InvalidInput


class PlannerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    # "openai:gpt-4o-mini", "anthropic:claude-...", or a bare model name served at
    # llm_base_url. Unset: the offline parser.
    llm_model: str | None = None
    # An OpenAI-compatible endpoint (Ollama, vLLM, LiteLLM...), e.g. http://127.0.0.1:11434/v1
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    # "page me" needs somewhere to page; without it the planner asks for a routing key.
    pagerduty_routing_key: SecretStr | None = None

    @field_validator("llm_model", "llm_base_url")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @property
    def uses_model(self) -> bool:
        return self.llm_model is not None


def load_planner_settings() -> PlannerSettings:
    """Read the settings; a bad value is bad input naming the variable."""
    try:
        return PlannerSettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "?"
        raise InvalidInput(f"TOCSIN_{field.upper()}", err["msg"]) from None


def pagerduty_key_of(settings: PlannerSettings) -> str | None:
    key = settings.pagerduty_routing_key
    return key.get_secret_value() if key is not None else None
