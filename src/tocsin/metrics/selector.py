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
