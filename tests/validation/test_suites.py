"""Each blocking rule fails on a bad order and passes on a good one; warnings never quarantine.

Everything here is validated in one DataFrame (GX costs about a second per validation call), then
each test reads its order's verdict.
"""

from __future__ import annotations

import enum
import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bad_orders import BAD_KINDS, GOOD_KINDS

from tests.validation.conftest import NOW, good_order
from wishflow.validation import ValidationOutcome, validate_frame
from wishflow.validation.suites import EXTERNAL_RULES, RULES


@pytest.fixture(scope="module")
def outcome() -> ValidationOutcome:
    rows = [good_order(f"bad-{kind}", **changes) for kind, (changes, _) in BAD_KINDS.items()]
    rows += [good_order(f"good-{kind}", **changes) for kind, changes in GOOD_KINDS.items()]
    rows += [good_order("dup-1"), good_order("dup-1", sku="OTHER")]
    rows += [{**good_order("placeholder"), "order_id": None}]
    rows += [
        good_order("warn-quantity", quantity=50),
        good_order("warn-long", street_address1="Apartment 1234, Building Seventeen, Long Street Name"),
        good_order("warn-latin", recipient_name="Zoë Müller"),
        good_order("warn-price", product_price=5000),
    ]
    return validate_frame(pd.DataFrame(rows), NOW)


@pytest.mark.parametrize("kind", sorted(BAD_KINDS))
def test_bad_order_is_quarantined_for_its_rule(outcome: ValidationOutcome, kind: str) -> None:
    _, rule = BAD_KINDS[kind]
    assert outcome.reasons(f"bad-{kind}") == [rule]
    failure = next(f for f in outcome.failures if f.order_id == f"bad-{kind}" and f.expectation == rule)
    assert failure.severity == "blocking"
    assert failure.column == RULES[rule].column


@pytest.mark.parametrize("kind", sorted(GOOD_KINDS))
def test_good_order_passes_every_blocking_rule(outcome: ValidationOutcome, kind: str) -> None:
    assert f"good-{kind}" not in outcome.invalid_order_ids
    assert outcome.reasons(f"good-{kind}") == []


def test_every_blocking_rule_has_a_failing_case() -> None:
    # rules a later stage finds (planning's parcel_fits_package) are tested where they are found
    blocking = {name for name, info in RULES.items() if info.severity == "blocking"} - EXTERNAL_RULES
    covered = {rule for _, rule in BAD_KINDS.values()} | {"order_id_present", "order_id_unique"}
    assert blocking == covered


def test_duplicate_order_ids_are_both_flagged(outcome: ValidationOutcome) -> None:
    assert outcome.reasons("dup-1") == ["order_id_unique"]


def test_rows_without_an_id_are_reported_not_attributed(outcome: ValidationOutcome) -> None:
    assert {f.expectation for f in outcome.unattributed} == {"order_id_present"}


def test_observed_values_are_recorded(outcome: ValidationOutcome) -> None:
    observed = {(f.order_id, f.expectation): f.observed_value for f in outcome.failures}
    assert observed[("bad-zero_quantity", "quantity_at_least_one")] == "0"
    assert observed[("bad-unknown_country", "country_code_valid")] == "XX"
    assert observed[("bad-us_bad_zipcode", "zipcode_format")] == "US:ABCDE"
    assert observed[("bad-unknown_state", "state_known")] == "SHIPPING"
    assert "released_at=" in observed[("bad-deadline_before_release", "expected_ship_time_after_release")]
    assert observed[("bad-huge_name", "recipient_name_length_within_bound")] == "100000 characters: " + "A" * 39 + "…"
    assert observed[("bad-too_many_units", "quantity_within_bound")] == "110"
    assert observed[("bad-parcel_too_heavy", "parcel_fits_largest_package")] == "60000"


def test_warnings_are_recorded_but_do_not_quarantine(outcome: ValidationOutcome) -> None:
    warned = {(f.order_id, f.expectation) for f in outcome.failures if f.severity == "warning"}
    assert ("warn-quantity", "quantity_unusual") in warned
    assert ("warn-long", "street_address1_too_long_for_label") in warned
    assert ("warn-latin", "address_not_printable_ascii") in warned
    assert ("warn-price", "price_outlier") in warned
    assert not {"warn-quantity", "warn-long", "warn-latin", "warn-price"} & outcome.invalid_order_ids


def test_gx_result_json_is_kept_and_sampled(outcome: ValidationOutcome) -> None:
    suites = outcome.gx_result["suites"]
    assert set(suites) == {"wishflow_orders_blocking", "wishflow_orders_warning"}
    assert suites["wishflow_orders_blocking"]["success"] is False
    for result in suites["wishflow_orders_blocking"]["results"]:
        assert len(result["result"].get("unexpected_index_list", [])) <= 20


def test_released_at_is_judged_against_the_given_clock() -> None:
    frame = pd.DataFrame([good_order("later", released_at=NOW + timedelta(hours=1))])
    assert validate_frame(frame, NOW).reasons("later") == ["released_at_valid"]
    assert validate_frame(frame, NOW + timedelta(hours=2)).reasons("later") == []


def test_gx_analytics_are_off_and_gx_loads_once() -> None:
    import sys

    from wishflow.validation.gx_runtime import gx_runtime

    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
    assert "great_expectations" in sys.modules
    assert gx_runtime() is gx_runtime()


def test_gx_keeps_nothing_of_a_validated_batch() -> None:
    # GX's execution engine keeps the last batch's frame and every metric computed on it (masks and
    # series of the batch's length); validation drops both, or the next batch is read beside them
    import gc

    from wishflow.validation.gx_runtime import gx_runtime

    rows = 1_237  # a length nothing else in the process has
    frame = pd.DataFrame([good_order(f"keep-{i}") for i in range(rows)])
    outcome = validate_frame(frame, NOW)
    assert len(outcome.validated) == rows
    del frame, outcome
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, pd.DataFrame | pd.Series) and len(o) == rows]
    assert alive == []
    engine = gx_runtime().batch_definition.data_asset.datasource.get_execution_engine()
    assert engine.batch_manager.batch_data_cache == {}
    assert len(engine._metric_cache) == 0


def _bad_batch() -> pd.DataFrame:
    rows = [good_order(f"bad-{kind}", **changes) for kind, (changes, _) in BAD_KINDS.items()]
    rows += [good_order("dup-1"), good_order("dup-1", sku="OTHER"), good_order("warn-quantity", quantity=50)]
    twin = {"street_address1": "1 Main St", "sku": "TWIN"}
    rows += [good_order("twin-1", **twin), good_order("twin-2", **twin)]  # same recipient, address and SKU
    return pd.DataFrame(rows)


def test_configurations_built_once_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # each suite's every result (configuration, success, failing rows, observed values) is the same
    # whether GX rebuilds an expectation's configuration on every read or once per validation
    import contextlib

    import wishflow.validation.validate as validate_module

    kept = validate_frame(_bad_batch(), NOW)
    monkeypatch.setattr(validate_module, "configurations_built_once", contextlib.nullcontext)
    rebuilt = validate_frame(_bad_batch(), NOW)
    assert kept.failures == rebuilt.failures
    assert len(kept.failures) > len(BAD_KINDS)
    for name, suite in kept.gx_result["suites"].items():
        assert suite["results"] == rebuilt.gx_result["suites"][name]["results"]
        assert suite["statistics"] == rebuilt.gx_result["suites"][name]["statistics"]


def test_configuration_is_kept_only_inside_a_validation() -> None:
    from wishflow.validation.configuration_cache import configurations_built_once, kept_count
    from wishflow.validation.gx_runtime import gx_runtime

    gx = gx_runtime().gx
    expectation = gx.expectations.ExpectColumnValuesToBeBetween(column="quantity", min_value=1)
    assert expectation.configuration is not expectation.configuration  # GX's own behaviour outside
    with configurations_built_once():
        first = expectation.configuration
        assert expectation.configuration is first
        assert kept_count() == 1
        expectation.min_value = 2  # an assigned field is never served from the cache
        assert expectation.configuration.kwargs["min_value"] == 2
        assert expectation.configuration is not first
    assert kept_count() == 0
    assert expectation.configuration.kwargs["min_value"] == 2


def test_no_expectation_filters_the_batch_with_a_row_condition() -> None:
    # a GX row condition filters the whole batch again for each metric of its expectation (0.55 s
    # of 1.6 s per 50,000 orders for six of them): conditional rules read helper columns instead
    from wishflow.validation.gx_runtime import gx_runtime

    suites = gx_runtime().suites.values()
    assert sum(len(suite.expectations) for suite in suites) > 40
    assert [e for suite in suites for e in suite.expectations if getattr(e, "row_condition", None)] == []


def test_a_gx_without_a_configuration_property_is_left_as_it_is() -> None:
    from wishflow.validation.configuration_cache import install

    class Planned:
        configuration = {"type": "expect_column_values_to_not_be_null"}  # not a property

    assert install(Planned) is False
    assert Planned.configuration == {"type": "expect_column_values_to_not_be_null"}


def test_narrowed_domains_change_no_result(monkeypatch: pytest.MonkeyPatch) -> None:
    # column rules given their columns only, not the whole batch: the same results, rule by rule
    # (the bad batch has nulls the rules filter, a pair rule, and duplicates for the compound rule)
    import contextlib

    import wishflow.validation.validate as validate_module

    narrowed = validate_frame(_bad_batch(), NOW)
    monkeypatch.setattr(validate_module, "domains_narrowed", contextlib.nullcontext)
    whole = validate_frame(_bad_batch(), NOW)
    assert narrowed.failures == whole.failures
    rules = {f.gx_expectation for f in narrowed.failures}
    assert {"expect_column_pair_values_a_to_be_greater_than_b", "expect_compound_columns_to_be_unique"} <= rules
    for name, suite in narrowed.gx_result["suites"].items():
        assert suite["results"] == whole.gx_result["suites"][name]["results"]
        assert suite["statistics"] == whole.gx_result["suites"][name]["statistics"]


def test_a_column_domain_gets_its_columns_only_inside_a_validation() -> None:
    from wishflow.validation.column_domains import domains_narrowed
    from wishflow.validation.gx_runtime import gx_runtime, release_batch
    from wishflow.validation.validate import prepare_frame

    frame = prepare_frame(_bad_batch())
    batch = gx_runtime().batch_definition.get_batch(batch_parameters={"dataframe": frame})
    engine = batch.data.execution_engine
    try:
        engine.batch_manager.load_batch_list([batch])  # as a validation does
        assert list(engine.get_domain_records({"column": "quantity"}).columns) == list(frame.columns)
        with domains_narrowed():
            assert list(engine.get_domain_records({"column": "quantity"}).columns) == ["quantity"]
            either = "either_value_is_missing"
            pair = engine.get_domain_records(
                {"column_A": "expected_ship_time", "column_B": "released_at", "ignore_row_if": either}
            )
            assert list(pair.columns) == ["expected_ship_time", "released_at"]
            both = frame["expected_ship_time"].notna() & frame["released_at"].notna()
            assert list(pair.index) == list(frame.index[both])  # GX's own row filter, then the columns
            assert len(pair) < len(frame)
            listed = engine.get_domain_records({"column_list": ["order_id", "sku"], "ignore_row_if": "never"})
            assert list(listed.columns) == ["order_id", "sku"]
            assert list(engine.get_domain_records({}).columns) == list(frame.columns)  # a table domain
            # a column the batch lacks: GX gets the whole batch and reports it itself
            assert list(engine.get_domain_records({"column": "no_such"}).columns) == list(frame.columns)
        assert list(engine.get_domain_records({"column": "quantity"}).columns) == list(frame.columns)
    finally:
        release_batch(batch)


def test_an_engine_without_domain_records_is_left_as_it_is() -> None:
    from wishflow.validation.column_domains import install

    class Engine:
        get_domain_records = None

    assert install(Engine) is False
    assert Engine.get_domain_records is None


def test_every_metric_id_of_a_validation_is_the_one_gx_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    # each id GX computes while it validates a batch (thousands) is computed again with GX's own
    # converter and compared: the plain-value converter names every metric as GX would
    from great_expectations.core import id_dict
    from great_expectations.util import convert_to_json_serializable as general

    validate_frame(_bad_batch(), NOW)  # GX loaded, the converter installed
    fast = id_dict.convert_to_json_serializable
    assert fast is not general
    to_id = id_dict.IDDict.to_id
    compared: list[tuple[Any, Any]] = []

    def checked(self: Any, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        ours = to_id(self, id_keys, id_ignore_keys)
        id_dict.convert_to_json_serializable = general
        try:
            compared.append((ours, to_id(self, id_keys, id_ignore_keys)))
        finally:
            id_dict.convert_to_json_serializable = fast
        return ours

    monkeypatch.setattr(id_dict.IDDict, "to_id", checked)
    validate_frame(_bad_batch(), NOW)
    assert len(compared) > 1000
    assert [ours for ours, _ in compared] == [theirs for _, theirs in compared]
    assert any(isinstance(ours, str) and len(ours) == 32 for ours, _ in compared)  # hashed ones among them


class _Colour(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        None,
        "text",
        "",
        0,
        -7,
        True,
        False,
        1.5,
        float("nan"),
        float("inf"),
        {"column": "zipcode", "row_condition": None, "condition_parser": None, 3: [1, 2.0, None, float("nan")]},
        ("a", 1, None),
        {3, 4},
        [{"nested": {"deeper": [None, "x", 1.25]}}],
        np.int64(3),
        np.float64(2.5),
        np.bool_(True),
        np.array([1.0, np.nan]),
        _Colour.RED,
        datetime(2026, 12, 4, 8, 30, tzinfo=UTC),
        Decimal("12.3450"),
        pd.Timestamp("2026-12-04T08:30:00Z"),
        {"regex": re.compile(r"^\d{5}$"), "value_set": ["US", "GB"], "mostly": np.float64(0.95)},
    ],
    ids=repr,
)
def test_the_plain_value_converter_converts_as_gx_does(value: Any) -> None:
    from great_expectations.util import convert_to_json_serializable as general

    from wishflow.validation.metric_ids import plain_converter

    fast = plain_converter(general)
    # JSON text tells 1 from 1.0 and True, and a key 3 from "3"
    assert json.dumps(fast(data=value), sort_keys=True) == json.dumps(general(data=value), sort_keys=True)


def test_a_gx_without_the_converter_is_left_as_it_is() -> None:
    from wishflow.validation.metric_ids import install

    assert install("json") is False  # no convert_to_json_serializable, no IDDict
    assert not hasattr(json, "convert_to_json_serializable")
