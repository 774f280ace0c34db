"""A SQL query against a database whose URL is in an environment variable."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from tocsin.metrics.sources.base import Source, SourceConfig, register

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SqlConfig(SourceConfig):
    type: Literal["sql"] = "sql"
    sql: str = Field(min_length=1, max_length=20000)
    # The name of the variable, never the URL: credentials stay out of the database.
    dsn_env: str
    max_rows: int = Field(default=1000, ge=1, le=100000)

    @field_validator("dsn_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r}: expected an environment variable name like DB_URL")
        return value


@register
class SqlSource(Source):
    type = "sql"
    Config = SqlConfig
