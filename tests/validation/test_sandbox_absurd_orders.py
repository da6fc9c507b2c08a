"""Malformed and absurd Wish JSON (wrong types in every text and number field, magnitudes past each
bound, 100,000-character fields, ancient and far-future dates, objects that are not objects) posted to
the sandbox beside good orders, pulled over HTTP like production and validated.

Every good order is valid and ready to ship; every bad one is quarantined with the expected rule (its
observed value recorded) or rejected with a reason; none is ready to ship or planned into a parcel;
none is missing from the warehouse; the raw payload is kept.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

from tests.validation.conftest import good_order
from tests.validation.test_sandbox_bad_orders import wish_partial
from wishflow.validation import quarantined_orders, ready_to_ship_order_ids, validate_pending

REJECTED = "rejected"
_ADDRESS = ("full_address", "shipping_detail")
_PAYMENT = ("order_payment", "general_payment_details")


def _set(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out: Any = value
    for key in reversed(path):
        out = {key: out}
    return out


def _address(key: str, value: Any) -> dict[str, Any]:
    return _set((*_ADDRESS, key), value)


def _payment(key: str, value: Any) -> dict[str, Any]:
    return _set((*_PAYMENT, key), value)


def _money(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "currency_code": "USD"}


_FAR = "2099-01-01T00:00:00.000Z"

#: kind -> (JSON merged over a good order's JSON, the blocking rule it must fail, or REJECTED)
ABSURD_KINDS: dict[str, tuple[dict[str, Any], str]] = {
    # text fields that are not text
    "city_object": (_address("city", {"name": "Paris"}), "field_types_valid"),
    "name_list": (_address("name", ["Ann", "Bob"]), "field_types_valid"),
    "street_number": (_address("street_address1", 42), "field_types_valid"),
    "street2_list": (_address("street_address2", ["Flat 2"]), "field_types_valid"),
    "state_boolean": (_address("state", True), "field_types_valid"),
    "zipcode_number": (_address("zipcode", 62701), "field_types_valid"),
    "country_list": (_address("country_code", ["US"]), "field_types_valid"),
    "phone_number_number": (_address("phone_number", {"number": 2175550100, "country_code": "1"}), "field_types_valid"),
    "phone_as_text": (_address("phone_number", "+1 217 555 0100"), "field_types_valid"),
    "sku_object": (_set(("product_information", "sku"), {"id": 1}), "field_types_valid"),
    "sku_number": (_set(("product_information", "sku"), 123456), "field_types_valid"),
    "product_name_list": (_set(("product_information", "name"), ["Mug"]), "field_types_valid"),
    "transaction_id_number": ({"transaction_id": 998877}, "field_types_valid"),
    "currency_number": (_payment("product_price", {"amount": 9.99, "currency_code": 840}), "field_types_valid"),
    # numbers that are not numbers
    "quantity_text": (_payment("product_quantity", "3"), "field_types_valid"),
    "quantity_fraction": (_payment("product_quantity", 2.5), "field_types_valid"),
    "quantity_boolean": (_payment("product_quantity", True), "field_types_valid"),
    "quantity_object": (_payment("product_quantity", {"value": 1}), "field_types_valid"),
    "price_text": (_payment("product_price", _money("9.99")), "field_types_valid"),
    "price_boolean": (_payment("product_price", _money(True)), "field_types_valid"),
    "price_not_an_object": (_payment("product_price", 9.99), "field_types_valid"),
    "shipping_price_text": (_payment("product_shipping_price", _money("2.00")), "field_types_valid"),
    "total_list": (_payment("payment_total", _money([10.5])), "field_types_valid"),
    # objects that are not objects
    "address_text": ({"full_address": "1 Main St, Springfield"}, "field_types_valid"),
    "shipping_detail_list": (_set(_ADDRESS, [{"city": "Springfield"}]), "field_types_valid"),
    "payment_list": ({"order_payment": [1, 2]}, "field_types_valid"),
    "product_text": ({"product_information": "a mug"}, "field_types_valid"),
    "requirements_list": ({"fulfillment_requirements": ["soon"]}, "field_types_valid"),
    # times that are not times
    "deadline_number": (_set(("fulfillment_requirements", "expected_ship_time"), 1767225600), "field_types_valid"),
    "deadline_words": (_set(("fulfillment_requirements", "expected_ship_time"), "next week"), "field_types_valid"),
    # magnitudes past each bound
    "quantity_150": (_payment("product_quantity", 150), "quantity_within_bound"),
    "quantity_million": (_payment("product_quantity", 1_000_000), "quantity_within_bound"),
    "quantity_past_integer": (_payment("product_quantity", 10**12), REJECTED),
    "price_1e12": (_payment("product_price", _money(1e12)), "product_price_within_bound"),
    "price_1e20": (_payment("product_price", _money(1e20)), REJECTED),
    "shipping_price_5000": (_payment("product_shipping_price", _money(5000)), "shipping_price_within_bound"),
    "total_1e9": (_payment("payment_total", _money(1e9)), "payment_total_within_bound"),
    # 100,000-character fields (and a few past the warehouse's column widths)
    "name_100k": (_address("name", "N" * 100_000), "recipient_name_length_within_bound"),
    "street_100k": (_address("street_address1", "S" * 100_000), "street_address1_length_within_bound"),
    "city_100k": (_address("city", "C" * 100_000), "city_length_within_bound"),
    "province_100k": (_address("state", "P" * 100_000), "province_length_within_bound"),
    "sku_100k": (_set(("product_information", "sku"), "K" * 100_000), REJECTED),
    "sku_120": (_set(("product_information", "sku"), "K" * 120), "sku_length_within_bound"),
    "zipcode_100k": (_address("zipcode", "9" * 100_000), REJECTED),
    "phone_100k": (_address("phone_number", {"number": "5" * 100_000, "country_code": "1"}), REJECTED),
    # ancient and far-future dates
    "released_1990": (
        {
            "released_at": "1990-01-01T00:00:00.000Z",
            "fulfillment_requirements": {"expected_ship_time": "1990-01-06T00:00:00.000Z"},
        },
        "released_at_valid",
    ),
    "deadline_2099": (_set(("fulfillment_requirements", "expected_ship_time"), _FAR), "ship_window_within_bound"),
    "deadline_1970": (
        _set(("fulfillment_requirements", "expected_ship_time"), "1970-01-01T00:00:00.000Z"),
        "expected_ship_time_after_release",
    ),
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def test_absurd_orders_are_held_or_rejected_and_good_ones_ship(sandbox, engine: sa.Engine) -> None:
    from wishflow.api.factory import client_from_settings
    from wishflow.config import WishSettings
    from wishflow.pull import plan_window, pull_chunk
    from wishflow.warehouse.schema import orders, rejected_records

    assert len(ABSURD_KINDS) >= 40
    partials = [_merge(wish_partial(good_order(kind)), change) for kind, (change, _) in ABSURD_KINDS.items()]
    partials += [wish_partial(good_order(f"good-{i}", sku=f"GOOD-{i}")) for i in range(8)]
    response = httpx.post(f"{sandbox.base_url}/sandbox/orders", json={"orders": partials}, timeout=60)
    response.raise_for_status()
    body = response.json()
    ids = body.get("data", body).get("ids") or body.get("data", body).get("order_ids")
    assert ids
    assert len(ids) == len(partials)
    expected = dict(zip(ids[: len(ABSURD_KINDS)], [rule for _, rule in ABSURD_KINDS.values()], strict=True))
    kind_of = dict(zip(ids, ABSURD_KINDS, strict=False))
    good_ids = set(ids[len(ABSURD_KINDS) :])

    settings = WishSettings(api_base_url=sandbox.api_url, access_token=SecretStr(sandbox.access_token))
    with client_from_settings(settings) as client:
        window = plan_window(engine, "default", now=datetime.now(UTC) + timedelta(minutes=1))
        position = None
        while True:
            chunk = pull_chunk(client, engine, "default", window, position)
            position = chunk.next_position
            if position is None:
                break
    validate_pending(engine, "default", "absurd-run", now=datetime.now(UTC))

    with engine.connect() as conn:
        stored = {r.order_id: r for r in conn.execute(sa.select(orders.c.order_id, orders.c.input_problems))}
        rejected = {
            r.record_key: r.reason
            for r in conn.execute(sa.select(rejected_records.c.record_key, rejected_records.c.reason))
        }
        observed = {
            (r.order_id, r.rule): r.observed_value
            for r in conn.execute(sa.text("SELECT order_id, rule, observed_value FROM v_quarantine_reasons"))
        }
    quarantined = {r["order_id"]: (r["reasons"] or "").split(", ") for r in quarantined_orders(engine, "default")}
    ready = set(ready_to_ship_order_ids(engine, "default"))

    # none missing: every order fetched is stored or rejected with a reason
    assert set(ids) <= set(stored) | set(rejected)
    assert ready == good_ids  # every good order valid; no bad one ready to ship
    assert set(quarantined) == {oid for oid, rule in expected.items() if rule != REJECTED}
    assert sum(rule == REJECTED for rule in expected.values()) == len(set(rejected) & set(expected)) == 5
    for order_id, rule in expected.items():
        kind = kind_of[order_id]
        if rule == REJECTED:
            assert order_id in rejected, kind
            assert rejected[order_id], kind
            assert order_id not in stored, kind
        else:
            assert rule in quarantined.get(order_id, []), (kind, quarantined.get(order_id))
            assert observed[(order_id, rule)] is not None or rule.endswith("_valid"), kind
    # a wrongly typed value is named, never turned into text
    city_object = next(oid for oid, kind in kind_of.items() if kind == "city_object")
    assert "city: object" in stored[city_object].input_problems
    assert observed[(city_object, "field_types_valid")].startswith("city: object")
