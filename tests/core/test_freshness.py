"""Freshness of a metric's data (PRODUCT.md §7 "Freshness"), given / when / then: a run
whose newest timestamp is older than the selector's max age reads as no data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.durations import spoken_duration
from tocsin.metrics.extract import Extracted, ValueSelector, extract_value
from tocsin.metrics.series import describe_labels, extract_series

AT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # the run's completion time
HOUR = 3600
BY_COLUMN = ValueSelector(column="n", fresh_column="updated_at", max_age_seconds=HOUR)


def table(*rows: tuple[Any, Any]) -> dict[str, Any]:
    return {"columns": ["n", "updated_at"], "rows": [list(r) for r in rows]}


def ago(**delta: float) -> str:
    return (AT - timedelta(**delta)).isoformat()


def read(result: object, selector: ValueSelector = BY_COLUMN) -> Extracted:
    return extract_value(result, selector, at=AT)


# --- stale and fresh -----------------------------------------------------------------


def test_a_table_whose_newest_row_is_older_than_max_age_reads_as_no_data() -> None:
    # Given rows updated 3 and 5 hours before the run completed, and a max age of 1 h
    result = table((7, ago(hours=5)), (6, ago(hours=3)))
    # When the value is read
    found = read(result, BY_COLUMN.model_copy(update={"row": "max"}))
    # Then it is no data, saying how old the newest row is
    assert found == Extracted("no_data", None, "data stale: newest row 3 h old, max 1 h")


def test_a_fresh_table_reads_its_value_as_before() -> None:
    found = read(table((7, ago(minutes=20))))
    assert found.status == "value" and found.value == Decimal(7)
    # and without the run's time (a preview of a draft) no check is made at all
    stale = table((7, ago(hours=3)))
    assert extract_value(stale, BY_COLUMN).value == Decimal(7)


def test_one_fresh_row_makes_the_table_fresh() -> None:
    found = read(
        table((7, ago(hours=9)), (8, ago(minutes=5))), BY_COLUMN.model_copy(update={"row": "sum"})
    )
    assert found.value == Decimal(15)


def test_the_fresh_column_is_never_taken_for_the_value() -> None:
    # Given a table of a value and its time, and no --column
    selector = ValueSelector(fresh_column="updated_at", max_age_seconds=HOUR)
    # Then the value is the one other column
    assert read(table((7, ago(minutes=1))), selector).value == Decimal(7)


def test_a_json_path_reads_the_newest_timestamp_of_the_whole_result() -> None:
    selector = ValueSelector(
        json_path="$.count", fresh_path="$.jobs[*].finished_at", max_age_seconds=HOUR
    )
    result: dict[str, Any] = {
        "count": 4,
        "jobs": [{"finished_at": ago(hours=7)}, {"finished_at": ago(hours=2)}],
    }
    assert read(result, selector) == Extracted(
        "no_data", None, "data stale: newest timestamp 2 h old, max 1 h"
    )
    result["jobs"].append({"finished_at": ago(seconds=30)})
    assert read(result, selector).value == Decimal(4)


def test_ages_are_said_in_the_units_people_use() -> None:
    selector = BY_COLUMN.model_copy(update={"max_age_seconds": 90 * 60})
    assert read(table((1, ago(days=2, hours=5))), selector).reason == (
        "data stale: newest row 2 d 5 h old, max 1 h 30 min"
    )
    # Just over the limit is not said as the limit itself
    assert read(table((1, ago(hours=1, seconds=20)))).reason == (
        "data stale: newest row over 1 h old, max 1 h"
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(45, "45 s"), (60, "1 min"), (61, "1 min 1 s"), (3600, "1 h"), (10800, "3 h"),
     (5400, "1 h 30 min"), (86400, "1 d"), (90061, "1 d 1 h")],
)  # fmt: skip
def test_spoken_durations(seconds: int, said: str) -> None:
    assert spoken_duration(seconds) == said


# --- timestamps as sources give them -------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-01-05T11:30:00Z",
        "2026-01-05T11:30:00+00:00",
        "2026-01-05T12:30:00+01:00",  # the same instant in Paris
        "2026-01-05 11:30:00",  # naive: UTC (SQLite's datetime('now'))
        "2026-01-05T11:30:00.123456",
        datetime(2026, 1, 5, 11, 30),  # naive datetime: UTC
        datetime(2026, 1, 5, 6, 30, tzinfo=timezone(timedelta(hours=-5))),
        int((AT - timedelta(minutes=30)).timestamp()),  # epoch seconds
        (AT - timedelta(minutes=30)).timestamp(),
        Decimal(int((AT - timedelta(minutes=30)).timestamp())),
    ],
)
def test_timestamps_thirty_minutes_old_are_fresh_whatever_their_form(stamp: object) -> None:
    assert read(table((7, stamp))).status == "value"


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-01-05T10:30:00Z",
        "2026-01-05T11:30:00+01:00",  # 10:30 UTC
        "2026-01-05 10:30:00",
        datetime(2026, 1, 5, 10, 30),
        int((AT - timedelta(minutes=90)).timestamp()),
        date(2026, 1, 4),  # a date is its midnight, UTC
        "2026-01-04",
    ],
)
def test_timestamps_older_than_max_age_are_stale_whatever_their_form(stamp: object) -> None:
    found = read(table((7, stamp)))
    assert found.status == "no_data" and found.reason.startswith("data stale: newest row")


@pytest.mark.parametrize(
    ("stamp", "shown"),
    [
        ("yesterday", "'yesterday'"),
        ("10:30:00", "'10:30:00'"),
        (True, "True"),
        ({"at": 1}, "{'at': 1}"),
        (10**30, str(10**30)),  # beyond any calendar
        (float("nan"), "nan"),
    ],
)
def test_an_unreadable_timestamp_is_an_error_naming_the_column_and_the_value(
    stamp: object, shown: str
) -> None:
    found = read(table((7, ago(minutes=1)), (8, stamp)))
    assert found.status == "error"
    assert found.reason.startswith(f"fresh column updated_at: {shown} is not a timestamp")


def test_an_unreadable_timestamp_at_a_path_names_the_path() -> None:
    selector = ValueSelector(fresh_path="$.updated_at", max_age_seconds=HOUR)
    found = read({"value": 3, "updated_at": "soon"}, selector)
    assert found.status == "error"
    assert found.reason.startswith("fresh path $.updated_at: 'soon' is not a timestamp")


def test_a_missing_fresh_column_is_an_error_naming_it() -> None:
    found = read({"columns": ["n", "ts"], "rows": [[7, ago(minutes=1)]]})
    assert found == Extracted("error", None, "fresh column updated_at not found; columns: n, ts")
    records = read([{"n": 1, "ts": ago(minutes=1)}])
    assert records.status == "error" and "updated_at not found" in records.reason


def test_a_path_that_matches_nothing_is_an_error_naming_it() -> None:
    selector = ValueSelector(fresh_path="$.meta.updated_at", max_age_seconds=HOUR)
    found = read({"value": 3}, selector)
    assert found == Extracted(
        "error", None, "fresh path $.meta.updated_at matched nothing in the result"
    )


def test_null_timestamps_only_are_stale() -> None:
    # Given `select count(*) as n, max(loaded_at) as updated_at` over no loaded rows
    found = read(table((0, None)))
    assert found == Extracted("no_data", None, "data stale: no row has a time in updated_at")


def test_an_empty_table_is_read_as_before() -> None:
    assert read(table()).status == "no_data"
    counted = read(table(), BY_COLUMN.model_copy(update={"row": "count"}))
    assert counted.value == Decimal(0)


def test_a_list_of_objects_and_one_object_carry_their_time_by_key() -> None:
    records = [{"n": 2, "updated_at": ago(hours=4)}, {"n": 3, "updated_at": ago(hours=2)}]
    assert read(records, BY_COLUMN.model_copy(update={"row": "sum"})).reason == (
        "data stale: newest row 2 h old, max 1 h"
    )
    assert read({"n": 5, "updated_at": ago(minutes=5)}).value == Decimal(5)


@given(
    age=st.integers(min_value=-86400, max_value=400 * 86400),
    micros=st.integers(min_value=0, max_value=999_999),
    max_age=st.integers(min_value=1, max_value=400 * 86400),
)
def test_stale_exactly_when_older_than_max_age(age: int, micros: int, max_age: int) -> None:
    # For any age and max age: no data iff the newest row is older than the max age
    newest = AT - timedelta(seconds=age, microseconds=micros)
    selector = ValueSelector(fresh_column="updated_at", column="n", max_age_seconds=max_age)
    found = extract_value(table((7, newest.isoformat())), selector, at=AT)
    stale = timedelta(seconds=age, microseconds=micros) > timedelta(seconds=max_age)
    assert (found.status == "no_data") is stale
    if stale:
        said, most = found.reason.removeprefix("data stale: newest row ").split(" old, max ")
        # and the age said is never the limit itself
        assert most == spoken_duration(max_age) and said != most
    else:
        assert found.value == Decimal(7)


# --- per series ----------------------------------------------------------------------


ERRORS = {
    "columns": ["service", "errors", "updated_at"],
    "rows": [["api", 7, ago(hours=3)], ["web", 2, ago(minutes=2)], ["batch", 9, ago(minutes=9)]],
}
BY_SERVICE = ValueSelector(
    column="errors", series_by=("service",), fresh_column="updated_at", max_age_seconds=HOUR
)


def readings(found: object) -> dict[str, tuple[str, Decimal | None]]:
    assert hasattr(found, "series")
    return {
        describe_labels(s.labels): (s.extracted.status, s.extracted.value) for s in found.series
    }


def test_each_series_is_judged_on_its_own_rows() -> None:
    # Given a table where only the api rows are old
    found = extract_series(ERRORS, BY_SERVICE, at=AT)
    # Then api alone is no data, the others evaluate as usual
    assert readings(found) == {
        '{service="api"}': ("no_data", None),
        '{service="web"}': ("value", Decimal(2)),
        '{service="batch"}': ("value", Decimal(9)),
    }
    assert found.series[0].extracted.reason == "data stale: newest row 3 h old, max 1 h"
    assert found.failure is None


def test_a_series_with_an_old_and_a_new_row_is_fresh() -> None:
    rows = [["api", 1, ago(hours=5)], ["api", 2, ago(minutes=5)]]
    selector = BY_SERVICE.model_copy(update={"row": "sum"})
    found = extract_series({"columns": ERRORS["columns"], "rows": rows}, selector, at=AT)
    assert readings(found) == {'{service="api"}': ("value", Decimal(3))}


def test_a_missing_fresh_column_fails_every_series_naming_it() -> None:
    result = {"columns": ["service", "errors"], "rows": [["api", 7]]}
    found = extract_series(result, BY_SERVICE, at=AT)
    assert found.series == []
    assert found.failure == Extracted(
        "error", None, "fresh column updated_at not found; columns: service, errors"
    )


def test_a_list_of_objects_at_a_json_path_is_judged_per_object() -> None:
    selector = BY_SERVICE.model_copy(update={"json_path": "$.queues"})
    result = {"queues": [{"service": "a", "errors": 1, "updated_at": ago(days=1)},
                         {"service": "b", "errors": 2, "updated_at": ago(seconds=1)}]}  # fmt: skip
    assert readings(extract_series(result, selector, at=AT)) == {
        '{service="a"}': ("no_data", None),
        '{service="b"}': ("value", Decimal(2)),
    }


def test_a_fresh_path_judges_every_series_alike() -> None:
    selector = ValueSelector(
        column="errors", series_by=("service",), json_path="$.rows", fresh_path="$.generated_at",
        max_age_seconds=HOUR,
    )  # fmt: skip
    result = {"generated_at": ago(hours=6), "rows": [{"service": "api", "errors": 7}]}
    found = extract_series(result, selector, at=AT)
    assert found.failure == Extracted(
        "no_data", None, "data stale: newest timestamp 6 h old, max 1 h"
    )
    result["generated_at"] = ago(minutes=6)
    assert readings(extract_series(result, selector, at=AT)) == {
        '{service="api"}': ("value", Decimal(7))
    }


def test_labelled_values_are_judged_each_on_its_own_time() -> None:
    selector = ValueSelector(fresh_column="updated_at", max_age_seconds=HOUR)
    pushed = {
        "values": [
            {"labels": {"service": "api"}, "value": 6, "updated_at": ago(hours=2)},
            {"labels": {"service": "web"}, "value": 4, "updated_at": ago(minutes=2)},
        ]
    }
    found = extract_series(pushed, selector, at=AT)
    assert readings(found) == {
        '{service="api"}': ("no_data", None),
        '{service="web"}': ("value", Decimal(4)),
    }
    assert found.partial


# --- the selector's fields -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"fresh_column": "updated_at"}, "max_age_seconds", "expected how old"),
        ({"fresh_path": "$.at"}, "max_age_seconds", "expected how old"),
        ({"max_age_seconds": 3600}, "max_age_seconds", "applies with selector.fresh_column"),
        ({"fresh_column": "u", "max_age_seconds": 0}, "max_age_seconds", "positive"),
        ({"fresh_column": "u", "max_age_seconds": -5}, "max_age_seconds", "positive"),
        (
            {"fresh_column": "u", "fresh_path": "$.u", "max_age_seconds": 9},
            "fresh_path",
            "not both",
        ),
        ({"fresh_column": " ", "max_age_seconds": 9}, "fresh_column", "non-empty"),
        ({"fresh_path": "$[", "max_age_seconds": 9}, "fresh_path", "JSONPath"),
        ({"fresh_column": "s", "series_by": ("s",), "max_age_seconds": 9}, "fresh_column", "label"),
    ],
)
def test_the_selector_refuses_bad_freshness_naming_the_field(
    fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        ValueSelector(**fields)
    [error] = info.value.errors()
    assert error["loc"] == (field,)
    assert words in error["msg"]


def test_a_selector_without_freshness_is_stored_as_before() -> None:
    assert ValueSelector(column="n").model_dump(exclude_none=True) == {
        "column": "n",
        "row": "first",
    }
    stored = BY_COLUMN.model_dump(exclude_none=True)
    assert stored == {
        "column": "n",
        "row": "first",
        "fresh_column": "updated_at",
        "max_age_seconds": 3600,
    }
    assert ValueSelector.model_validate(stored) == BY_COLUMN
