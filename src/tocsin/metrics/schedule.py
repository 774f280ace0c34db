"""When a metric runs: a fixed interval, or a cron expression in a time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_INTERVAL = 366 * 86400


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    every_seconds: int | None = Field(default=None, ge=1, le=MAX_INTERVAL)
    cron: str | None = None
    timezone: str | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression: expected e.g. '*/5 * * * *'")
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone: expected an IANA name such as Europe/Paris"
            ) from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.every_seconds is None) == (self.cron is None):
            raise ValueError("expected exactly one of every_seconds or cron")
        if self.every_seconds is not None and self.timezone is not None:
            raise ValueError("timezone applies to cron schedules only")
        return self

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``: after downtime a metric runs once."""
        if self.every_seconds is not None:
            return moment + timedelta(seconds=self.every_seconds)
        assert self.cron is not None
        tz = ZoneInfo(self.timezone or "UTC")
        nxt: datetime = croniter(self.cron, moment.astimezone(tz)).get_next(datetime)
        return nxt.astimezone(moment.tzinfo)
