"""Which number of a result an alert looks at: the metric's value selector (column, row
reducer, JSONPath) and its label columns (``series_by``). Read by ``extract.py`` and
``series.py``."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import pydantic
from jsonpath_ng import JSONPath
from jsonpath_ng.ext.parser import parse as _parse_jsonpath

RowReducer = Literal["first", "min", "max", "sum", "count"]
MAX_SERIES_BY = 10


@lru_cache(maxsize=256)
def compiled_json_path(path: str) -> JSONPath:
    return _parse_jsonpath(path)


class ValueSelector(pydantic.BaseModel):
    """Which number of a result an alert looks at (the metric's "value selector")."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    column: str | None = None
    row: RowReducer = "first"
    json_path: str | None = None
    # The label columns: one series per distinct combination (metrics/series.py).
    series_by: tuple[str, ...] = ()
    # Freshness (metrics/freshness.py): where the data's own time is, and how old its
    # newest may be before a run's value reads as no data. Declared in this order: each
    # check reads the ones before it.
    fresh_column: str | None = None
    fresh_path: str | None = None
    max_age_seconds: int | None = pydantic.Field(default=None, validate_default=True)

    @pydantic.field_validator("series_by")
    @classmethod
    def _series_by(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if len(names) > MAX_SERIES_BY:
            raise ValueError(f"series_by: expected at most {MAX_SERIES_BY} label columns")
        for name in names:
            if not name.strip():
                raise ValueError("series_by: expected non-empty column names")
        if len(set(names)) != len(names):
            raise ValueError("series_by: expected each column once")
        return names

    @pydantic.model_serializer(mode="wrap")
    def _without_empty_series_by(
        self, handler: pydantic.SerializerFunctionWrapHandler
    ) -> dict[str, Any]:
        # Selectors stored before series existed, and those without, look the same.
        data: dict[str, Any] = handler(self)
        if not self.series_by:
            data.pop("series_by", None)
        return data

    @pydantic.field_validator("column")
    @classmethod
    def _column_not_blank(cls, column: str | None) -> str | None:
        if column is not None and not column.strip():
            raise ValueError("selector.column: expected a non-empty column name")
        return column

    @pydantic.field_validator("json_path")
    @classmethod
    def _json_path_parses(cls, path: str | None) -> str | None:
        if path is None:
            return None
        if not path.strip():
            raise ValueError(
                "selector.json_path: expected a JSONPath expression such as $.data.count, "
                "got an empty string"
            )
        try:
            compiled_json_path(path)
        except Exception as exc:  # jsonpath-ng raises several unrelated exception types
            raise ValueError(
                "selector.json_path: expected a JSONPath expression such as $.data.count, "
                f"got {path!r} ({exc})"
            ) from None
        return path

    @pydantic.field_validator("fresh_column")
    @classmethod
    def _fresh_column(cls, column: str | None, info: pydantic.ValidationInfo) -> str | None:
        if column is None:
            return None
        if not column.strip():
            raise ValueError("selector.fresh_column: expected a non-empty column name")
        if column in info.data.get("series_by", ()):
            raise ValueError(
                f'selector.fresh_column: "{column}" is a series_by label column; expected '
                "the column that holds each row's time"
            )
        return column

    @pydantic.field_validator("fresh_path")
    @classmethod
    def _fresh_path(cls, path: str | None, info: pydantic.ValidationInfo) -> str | None:
        if path is None:
            return None
        if info.data.get("fresh_column") is not None:
            raise ValueError(
                "selector.fresh_path: expected either selector.fresh_column (a table's "
                "column) or selector.fresh_path (a JSONPath), not both"
            )
        try:
            compiled_json_path(path)
        except Exception as exc:  # jsonpath-ng raises several unrelated exception types
            raise ValueError(
                "selector.fresh_path: expected a JSONPath expression such as $.updated_at, "
                f"got {path!r} ({exc})"
            ) from None
        return path

    @pydantic.field_validator("max_age_seconds")
    @classmethod
    def _max_age(cls, seconds: int | None, info: pydantic.ValidationInfo) -> int | None:
        if "fresh_column" not in info.data or "fresh_path" not in info.data:
            return seconds  # one of them is refused already: no second guess at why
        timed = info.data["fresh_column"] is not None or info.data["fresh_path"] is not None
        if seconds is None and timed:
            raise ValueError(
                "selector.max_age_seconds: expected how old the newest timestamp may be, in "
                "seconds (e.g. 3600), with selector.fresh_column or selector.fresh_path"
            )
        if seconds is not None and not timed:
            raise ValueError(
                "selector.max_age_seconds: applies with selector.fresh_column or "
                "selector.fresh_path, the timestamp whose age it limits"
            )
        if seconds is not None and seconds <= 0:
            raise ValueError(
                f"selector.max_age_seconds: expected a positive number of seconds, got {seconds}"
            )
        return seconds

    @pydantic.model_validator(mode="after")
    def _column_xor_json_path(self) -> ValueSelector:
        # With series, the path finds the list of objects and the column is each one's
        # value key; without, either alone says where the number is.
        if self.column is not None and self.json_path is not None and not self.series_by:
            raise ValueError(
                "selector: expected either selector.column or selector.json_path, not both "
                "(both together only with series_by)"
            )
        if self.series_by and self.column in self.series_by:
            raise ValueError(
                f'selector.column: "{self.column}" is a series_by label column; expected '
                "the column that holds the value"
            )
        return self
