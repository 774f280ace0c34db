"""A result's series (metrics/series.py), given / when / then."""

from __future__ import annotations

import json
from decimal import Decimal

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.metrics.extract import ValueSelector, extract_value
from tocsin.metrics.series import describe_labels, extract_series, series_key

ERRORS = {
    "columns": ["service", "errors"],
    "rows": [["api", 7], ["web", 2], ["batch", 9]],
}


def values(found: object) -> dict[str, Decimal | None]:
    assert hasattr(found, "series")
    return {describe_labels(s.labels): s.extracted.value for s in found.series}


def test_without_series_by_the_result_is_the_one_series() -> None:
    found = extract_series({"value": 6})
    assert [(s.key, s.labels) for s in found.series] == [("{}", {})]
    assert found.series[0].extracted == extract_value({"value": 6})


def test_a_table_gives_one_series_per_label_combination() -> None:
    found = extract_series(ERRORS, ValueSelector(column="errors", series_by=("service",)))
    assert values(found) == {
        '{service="api"}': Decimal(7),
        '{service="web"}': Decimal(2),
        '{service="batch"}': Decimal(9),
    }
    assert found.failure is None


def test_the_value_column_may_be_the_only_other_column() -> None:
    found = extract_series(ERRORS, ValueSelector(series_by=("service",)))
    assert values(found)['{service="api"}'] == Decimal(7)


def test_rows_of_one_series_are_reduced_by_the_row_reducer() -> None:
    table = {"columns": ["q", "n"], "rows": [["a", 1], ["a", 4], ["b", 2]]}
    summed = extract_series(table, ValueSelector(column="n", row="sum", series_by=("q",)))
    assert values(summed) == {'{q="a"}': Decimal(5), '{q="b"}': Decimal(2)}
    # With "first", two rows of one series are an error for that series only.
    first = extract_series(table, ValueSelector(column="n", series_by=("q",)))
    a, b = first.series
    assert a.extracted.status == "error" and "2 rows for this series" in a.extracted.reason
    assert b.extracted.value == Decimal(2)


def test_several_label_columns_and_label_values_as_strings() -> None:
    rows = [{"country": "FR", "tier": 1, "paid": True, "n": 3}]
    sel = ValueSelector(column="n", series_by=("country", "tier", "paid"))
    found = extract_series(rows, sel)
    (series,) = found.series
    assert series.labels == {"country": "FR", "tier": "1", "paid": "true"}
    assert series.key == series_key({"tier": "1", "paid": "true", "country": "FR"})


def test_a_json_path_to_a_list_of_objects() -> None:
    result = {"data": {"queues": [{"name": "mail", "depth": 40}, {"name": "sms", "depth": 3}]}}
    sel = ValueSelector(json_path="$.data.queues", column="depth", series_by=("name",))
    assert values(extract_series(result, sel)) == {
        '{name="mail"}': Decimal(40),
        '{name="sms"}': Decimal(3),
    }
    nothing = extract_series(result, sel.model_copy(update={"json_path": "$.nope"}))
    assert nothing.series == [] and nothing.failure is not None
    assert nothing.failure.status == "no_data"


def test_a_missing_label_column_fails_the_whole_result_naming_it() -> None:
    found = extract_series(ERRORS, ValueSelector(column="errors", series_by=("region",)))
    assert found.series == []
    assert found.failure is not None and found.failure.status == "error"
    assert found.failure.reason == 'series_by column "region" not found; columns: service, errors'


def test_a_selector_names_its_label_columns_sanely() -> None:
    for bad, words in [
        ({"series_by": ("service", "service")}, "each column once"),
        ({"series_by": (" ",)}, "non-empty column names"),
        ({"series_by": ("service",), "column": "service"}, "is a series_by label column"),
        ({"column": "n", "json_path": "$.x"}, "only with series_by"),
    ]:
        with pytest.raises(pydantic.ValidationError, match=words):
            ValueSelector.model_validate(bad)
    # Stored selectors without series look as they did before series existed.
    assert ValueSelector(column="n").model_dump(exclude_none=True) == {
        "column": "n",
        "row": "first",
    }


def test_a_scalar_cannot_be_split() -> None:
    found = extract_series(6, ValueSelector(series_by=("service",)))
    assert found.failure is not None and "needs a table" in found.failure.reason


def test_an_empty_table_has_no_series() -> None:
    found = extract_series(
        {"columns": ["service", "errors"], "rows": []}, ValueSelector(series_by=("service",))
    )
    assert found.series == [] and found.failure is None


def test_labelled_pushes_carry_their_labels() -> None:
    one = extract_series({"value": 6, "labels": {"service": "api"}})
    assert values(one) == {'{service="api"}': Decimal(6)}
    many = extract_series(
        {"values": [{"labels": {"s": "a"}, "value": 1}, {"labels": {"s": "b"}, "value": "x"}]}
    )
    a, b = many.series
    assert a.extracted.value == Decimal(1)
    assert b.extracted.status == "error"  # a bad value is that series' error only
    twice = extract_series(
        {"values": [{"labels": {"s": "a"}, "value": 1}, {"labels": {"s": "a"}, "value": 2}]}
    )
    assert twice.series[0].extracted.status == "error"


labels = st.sampled_from(["api", "web", "batch", "db"])
numbers = st.integers(min_value=-1000, max_value=1000)


@given(st.lists(st.tuples(labels, numbers), max_size=30))
def test_each_series_reads_as_its_own_rows_alone(rows: list[tuple[str, int]]) -> None:
    # Per-series extraction of an interleaving equals extracting each series' rows alone.
    table = {"columns": ["service", "n"], "rows": [list(r) for r in rows]}
    sel = ValueSelector(column="n", row="sum")
    found = extract_series(table, sel.model_copy(update={"series_by": ("service",)}))
    by_service = {s.labels["service"]: s.extracted for s in found.series}
    assert set(by_service) == {service for service, _ in rows}
    for service, extracted in by_service.items():
        alone = {"columns": ["n"], "rows": [[n] for s, n in rows if s == service]}
        assert extracted == extract_value(alone, sel)


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        max_size=4,
    )
)
def test_a_series_key_is_the_json_stored_keys_were_made_of(labels: dict[str, str]) -> None:
    # Keys stored before are the standard encoder's; a new run must find them.
    before = json.dumps(dict(sorted(labels.items())), ensure_ascii=False, separators=(",", ":"))
    assert series_key(labels) == before


def test_a_label_with_a_lone_surrogate_still_has_a_key() -> None:
    labels = json.loads('{"service": "bad\\ud800"}')
    assert series_key(labels) == json.dumps(labels, ensure_ascii=False, separators=(",", ":"))
