"""What a push to ``POST /metrics/{id}/values`` may carry: a value, a value with the
labels of its series, or many labelled values (metrics/series.py reads them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tocsin.api.schemas import MAX_LABELS, MAX_VALUE_BYTES, check_numbers, json_size

# A push that gave no value at all (null is a value: "no data").
_NO_VALUE = object()


class LabelledValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(max_length=MAX_LABELS)
    value: Any


class ValuesIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"value": 6},
                {"value": {"columns": ["n"], "rows": [[6]]}},
                {"value": 6, "labels": {"service": "api"}},
                {"values": [{"labels": {"service": "api"}, "value": 6}]},
            ]
        },
    )

    value: Any = Field(
        default=None,
        description="The reading: a number, a numeric string, an object or a table; "
        "the metric's selector picks the number. Required unless `values` is given.",
    )
    labels: dict[str, str] | None = Field(
        default=None, max_length=MAX_LABELS, description="The series the value is of."
    )
    values: list[LabelledValue] | None = Field(
        default=None, description="Many series in one run, each with its labels."
    )

    @field_validator("value")
    @classmethod
    def _size(cls, value: Any) -> Any:
        if value is _NO_VALUE:
            raise PydanticCustomError("missing", "Field required")
        json_size(value, "value", MAX_VALUE_BYTES)
        check_numbers(value)
        return value

    @field_validator("values")
    @classmethod
    def _values_size(cls, values: list[LabelledValue] | None) -> list[LabelledValue] | None:
        if values is not None:
            json_size([v.model_dump() for v in values], "values", MAX_VALUE_BYTES)
        return values

    @model_validator(mode="before")
    @classmethod
    def _values_stand_for_value(cls, data: Any) -> Any:
        # One reading: a value (the field a bare push is refused for), or values.
        if isinstance(data, dict) and "values" in data:
            if "value" in data or "labels" in data:
                raise ValueError("expected either value (with labels) or values, not both")
        elif isinstance(data, dict) and "value" not in data:
            return {**data, "value": _NO_VALUE}
        return data

    def result(self) -> Any:
        """The reading as the run records it (``metrics/series.py`` reads labels)."""
        if self.values is not None:
            return {"values": [v.model_dump() for v in self.values]}
        if self.labels is not None:
            return {"value": self.value, "labels": self.labels}
        return self.value
