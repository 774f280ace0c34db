"""Value extraction (PRODUCT.md §3 "Value extraction")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pydantic
import pytest

from tocsin.metrics.extract import Extracted, ValueSelector, extract_value
from tocsin.numbers import format_decimal

TABLE = {"columns": ["day", "n"], "rows": [["mon", 3], ["tue", 7], ["wed", "5"]]}


def value_of(result: Any, **selector: Any) -> Decimal:
    extracted = extract_value(result, ValueSelector(**selector) if selector else None)
    assert extracted.status == "value", extracted.reason
    assert extracted.value is not None
    assert extracted.reason
    return extracted.value


def failure(result: Any, **selector: Any) -> Extracted:
    extracted = extract_value(result, ValueSelector(**selector) if selector else None)
    assert extracted.value is None
    assert extracted.reason
    return extracted


# --- scalars ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (6, "6"),
        (-3, "-3"),
        (6.5, "6.5"),
        (0.1, "0.1"),  # not 0.1000000000000000055511151231257827...
        (1e16, "1E+16"),
        (Decimal("2.50"), "2.50"),
        ("6.5", "6.5"),
        (" 6.5 ", "6.5"),
        ("1e3", "1E+3"),
        ("-0.25", "-0.25"),
        ("+4", "4"),
        (".5", "0.5"),
        (10**30, "1000000000000000000000000000000"),
    ],
)
def test_numbers_and_numeric_strings_are_values(result: Any, expected: str) -> None:
    assert value_of(result) == Decimal(expected)


def test_float_goes_through_its_shortest_repr() -> None:
    assert str(value_of(0.1 + 0.2)) == "0.30000000000000004"
    assert str(value_of(0.1)) == "0.1"


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (True, "value true is a boolean, not a number"),
        (False, "value false is a boolean, not a number"),
        (float("nan"), "value NaN is not a finite number"),
        (float("inf"), "value Infinity is not a finite number"),
        (float("-inf"), "value -Infinity is not a finite number"),
        ("NaN", 'value "NaN" is not a finite number'),
        ("Infinity", 'value "Infinity" is not a finite number'),
        ("-inf", 'value "-inf" is not a finite number'),
        (Decimal("NaN"), "value NaN is not a finite number"),
        (Decimal("-Infinity"), "value -Infinity is not a finite number"),
        ("abc", 'value "abc" is not a number'),
        ("1,000", 'value "1,000" is not a number'),
        ("0x10", 'value "0x10" is not a number'),
        ("٣", 'value "٣" is not a number'),
    ],
)
def test_non_numbers_are_errors_with_a_clear_reason(result: Any, reason: str) -> None:
    extracted = failure(result)
    assert extracted.status == "error"
    assert extracted.reason == reason


def test_long_bad_strings_are_truncated_in_the_reason() -> None:
    extracted = failure("x" * 500)
    assert extracted.status == "error"
    assert len(extracted.reason) < 100


@pytest.mark.parametrize(
    ("result", "reason_part"),
    [
        (None, "empty (null)"),
        ("", "empty string"),
        ("   ", "empty string"),
        ([], "empty list"),
        ({}, "empty object"),
        ({"columns": ["n"], "rows": []}, "no rows"),
    ],
)
def test_empty_results_are_no_data(result: Any, reason_part: str) -> None:
    extracted = failure(result)
    assert extracted.status == "no_data"
    assert reason_part in extracted.reason


# --- objects ---------------------------------------------------------------------------


def test_object_value_key() -> None:
    assert value_of({"value": 6}) == 6
    assert value_of({"value": "6.5", "unit": "ms"}) == Decimal("6.5")


def test_object_value_key_that_is_null_is_no_data_and_bad_is_an_error() -> None:
    assert failure({"value": None}).status == "no_data"
    assert failure({"value": True}).status == "error"
    assert "boolean" in failure({"value": True}).reason


def test_object_without_value_key_asks_for_a_selector() -> None:
    extracted = failure({"count": 6, "total": 9})
    assert extracted.status == "error"
    assert "count, total" in extracted.reason
    assert "selector.column" in extracted.reason


def test_object_read_by_column_key() -> None:
    assert value_of({"count": 6, "total": 9}, column="total") == 9
    missing = failure({"count": 6}, column="total")
    assert missing.status == "error"
    assert '"total" not found' in missing.reason


# --- tables ----------------------------------------------------------------------------


def test_single_column_table_uses_its_only_column() -> None:
    assert value_of({"columns": ["count"], "rows": [[42]]}) == 42


def test_several_columns_without_selector_is_an_error_naming_them() -> None:
    extracted = failure(TABLE)
    assert extracted.status == "error"
    assert "2 columns (day, n)" in extracted.reason
    assert "selector.column" in extracted.reason


@pytest.mark.parametrize(
    ("row", "expected"), [("first", 3), ("min", 3), ("max", 7), ("sum", 15), ("count", 3)]
)
def test_row_reducers(row: Any, expected: int) -> None:
    assert value_of(TABLE, column="n", row=row) == expected


def test_count_needs_no_column_and_counts_an_empty_table_as_zero() -> None:
    assert value_of(TABLE, row="count") == 3
    assert value_of({"columns": ["a", "b"], "rows": []}, row="count") == 0
    assert value_of([], row="count") == 0


def test_reducers_other_than_count_on_an_empty_table_are_no_data() -> None:
    for row in ("first", "min", "max", "sum"):
        assert failure({"columns": ["n"], "rows": []}, row=row).status == "no_data"


def test_sum_is_exact() -> None:
    table = {"columns": ["n"], "rows": [[0.1], [0.2], ["1e30"], ["-1e30"]]}
    assert value_of(table, row="sum") == Decimal("0.3")


def test_first_ignores_bad_cells_further_down_but_min_does_not() -> None:
    table = {"columns": ["n"], "rows": [[4], ["oops"]]}
    assert value_of(table) == 4
    extracted = failure(table, row="min")
    assert extracted.status == "error"
    assert extracted.reason == 'row 2: value "oops" is not a number'


def test_null_cell_is_no_data() -> None:
    # SELECT max(n) over no rows gives one NULL cell: nothing to judge yet.
    extracted = failure({"columns": ["n"], "rows": [[None]]})
    assert extracted.status == "no_data"
    assert "null" in extracted.reason


def test_unknown_column_is_an_error_listing_columns() -> None:
    extracted = failure(TABLE, column="missing")
    assert extracted.status == "error"
    assert 'column "missing" not found' in extracted.reason
    assert "day, n" in extracted.reason


def test_short_rows_and_malformed_tables_are_errors_not_crashes() -> None:
    assert failure({"columns": ["a", "b"], "rows": [["x"]]}, column="b").status == "error"
    assert failure({"columns": "n", "rows": 5}).status == "error"
    assert failure({"columns": ["n"], "rows": [5]}).status == "error"


def test_rows_as_objects_and_lists_of_records() -> None:
    assert value_of({"columns": ["n"], "rows": [{"n": 2}, {"n": 5}]}, row="max") == 5
    records = [{"day": "mon", "n": 3}, {"day": "tue", "n": 9}]
    assert value_of(records, column="n", row="max") == 9
    assert failure(records).status == "error"


def test_plain_lists_are_rows() -> None:
    assert value_of([3, 1, 2]) == 3
    assert value_of([3, 1, 2], row="min") == 1
    assert value_of([[3], [4]], row="sum") == 7
    assert failure([1, "x"], row="sum").status == "error"


# --- JSONPath --------------------------------------------------------------------------

DOC = {
    "data": {"open": 12, "stats": {"value": "4.5"}},
    "items": [{"state": "open", "n": 1}, {"state": "closed", "n": 5}, {"state": "open", "n": 2}],
}


def test_json_path_single_match() -> None:
    assert value_of(DOC, json_path="$.data.open") == 12
    # a match is read like a whole result, so an object with "value" works
    assert value_of(DOC, json_path="$.data.stats") == Decimal("4.5")


def test_json_path_several_matches_use_the_row_reducer() -> None:
    assert value_of(DOC, json_path="$.items[*].n") == 1
    assert value_of(DOC, json_path="$.items[*].n", row="sum") == 8
    assert value_of(DOC, json_path="$.items[*].n", row="max") == 5


def test_json_path_filter_count() -> None:
    assert value_of(DOC, json_path='$.items[?(@.state == "open")]', row="count") == 2
    assert value_of(DOC, json_path='$.items[?(@.state == "closed")]', row="count") == 1
    assert value_of(DOC, json_path='$.items[?(@.state == "merged")]', row="count") == 0
    assert value_of(DOC, json_path="$.items", row="count") == 3


def test_json_path_no_match_is_no_data() -> None:
    extracted = failure(DOC, json_path="$.data.closed")
    assert extracted.status == "no_data"
    assert "$.data.closed matched nothing" in extracted.reason


def test_json_path_to_bad_value_is_an_error() -> None:
    extracted = failure({"a": {"b": "n/a"}}, json_path="$.a.b")
    assert extracted.status == "error"
    assert '"n/a"' in extracted.reason


def test_json_path_on_a_scalar_result_matches_nothing_without_crashing() -> None:
    assert failure(6, json_path="$.a").status == "no_data"


# --- selector validation -----------------------------------------------------------------


def test_selector_column_and_json_path_are_exclusive() -> None:
    with pytest.raises(pydantic.ValidationError, match="not both"):
        ValueSelector(column="n", json_path="$.n")


@pytest.mark.parametrize("path", ["$[", "", "$.a[?(", "$.."])
def test_selector_json_path_must_parse(path: str) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        ValueSelector(json_path=path)
    message = str(info.value)
    assert "selector.json_path" in message
    assert "expected a JSONPath expression" in message


def test_selector_is_frozen_and_forbids_extra_fields() -> None:
    selector = ValueSelector(column="n")
    with pytest.raises(pydantic.ValidationError):
        selector.column = "m"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        ValueSelector(colum="n")  # type: ignore[call-arg]
    with pytest.raises(pydantic.ValidationError):
        ValueSelector.model_validate({"row": "avg"})


def test_selector_round_trips_through_json() -> None:
    selector = ValueSelector(json_path="$.a[*]", row="max")
    assert ValueSelector.model_validate_json(selector.model_dump_json()) == selector


# --- robustness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [object(), b"6", {"columns": ["n"], "rows": [[{"x": 1}]]}, [[[]]], {1: 2}, (1, 2), set()],
)
def test_odd_inputs_never_raise(result: Any) -> None:
    extracted = extract_value(result)
    assert extracted.status in ("value", "no_data", "error")
    assert extracted.reason


def test_deep_nesting_never_raises() -> None:
    nested: Any = 1
    for _ in range(5000):
        nested = {"value": nested}
    assert extract_value(nested).reason


def test_format_decimal() -> None:
    assert format_decimal(Decimal("1E+3")) == "1000"
    assert format_decimal(Decimal("6.50")) == "6.5"
    assert format_decimal(Decimal("-0")) == "0"
    assert format_decimal(Decimal("Infinity")) == "infinity"
    assert format_decimal(Decimal("-33.333333333"), places=4) == "-33.3333"
