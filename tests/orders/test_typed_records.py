"""The pull's typed records give exactly what the careful route gives, and the client judges their answers alike.

The typed route (wishflow/orders/records.py) reads a regular record's row straight from its bytes;
anything irregular goes the careful way (``parse_order`` on the dict, ``flatten_order``). These tests
run both routes over the sandbox's orders under every data profile, and over copies of them with a
value of another type (or shape) in each field the row reads.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from wishflow.api.auth import TokenSet
from wishflow.api.client import WishClient
from wishflow.api.errors import WishError, WishRetryableError
from wishflow.orders.flatten import flatten_order, milestones
from wishflow.orders.parse import parse_orders
from wishflow.orders.records import OrderRecord, order_records
from wishflow.sandbox import Sandbox, SandboxConfig
from wishflow.sandbox.programs import DATA_PROFILES

#: A value of another type (or shape) than Wish's, put into copies of the sandbox's orders.
MUTATIONS: tuple[tuple[str, Any], ...] = (
    ("transaction_id", 5),
    ("id", ""),
    ("id", "x" * 65),
    ("id", 12),
    ("state", "LOST"),
    ("state", None),
    ("updated_at", "2026-01-01T00:00:00"),
    ("updated_at", "20260101T000000Z"),
    ("updated_at", 1767225600),
    ("updated_at", "2026-01-01T00:00:00.1234567Z"),
    ("released_at", "yesterday"),
    ("released_at", "2026-01-01"),
    ("released_at", "2026-01-01T00:00:60Z"),
    ("product_information", "lamp"),
    ("product_information.sku", ["A"]),
    ("full_address", []),
    ("full_address.shipping_detail.city", {"a": 1}),
    ("full_address.shipping_detail.city", "Ly\u0000on"),
    ("full_address.shipping_detail.phone_number", "+33 1"),
    ("order_payment.general_payment_details.product_quantity", 2.0),
    ("order_payment.general_payment_details.product_quantity", True),
    ("order_payment.general_payment_details.product_price.amount", "3"),
    ("order_payment.general_payment_details.product_price.currency_code", "XXX"),
    ("order_payment.general_payment_details.payment_total", 12),
    ("fulfillment_requirements.expected_ship_time", 1700000000),
    ("fulfillment_order_types", ["WISH_EXPRESS", 3]),
    ("fulfillment_order_types", "WISH_EXPRESS"),
    ("tracking_information", [{"tracking_number": 7}]),
    ("tracking_information", ["x"]),
    ("tracking_information", [{"shipping_provider": {"name": 3}}]),
    ("fulfillment_records", [{"event_type": 1, "event_time": "x"}]),
    ("refunds", [{"refund_time": 5}]),
    ("refunds", {"refund_time": "2026-01-01T00:00:00Z"}),
    ("processing_status", False),
)


#: Values of Wish's types that are odd all the same: the typed route reads them, to the same result.
SAME_TYPES: tuple[tuple[str, Any], ...] = (
    ("order_payment.general_payment_details.product_quantity", 2**40),
    ("order_payment.general_payment_details.product_price.amount", 1e300),
    ("order_payment.general_payment_details.product_price.amount", 7),
    ("tracking_information", [{"shipping_provider": "UPS"}]),
    ("tracking_information", []),
    ("fulfillment_records", [{"event_type": "MARK_SHIPPED", "event_time": "never"}]),
    ("released_at", "2026-01-01T00:00:00.5+05:30"),
    ("full_address.shipping_detail.city", "Zürich \\ \t\n"),
)


def _mutated(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copy = orjson.loads(orjson.dumps(record))
    *parents, key = path.split(".")
    node = copy
    for name in parents:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[key] = value
    return copy


def _both_routes(records: list[Any]) -> None:
    """The careful route's results from dicts and the typed route's from the same bytes are equal."""
    page = orjson.dumps(records)
    want, want_rejected = parse_orders(orjson.loads(page))
    got, got_rejected = parse_orders(order_records(page))
    assert [(e.order_id, e.reason) for e in got_rejected] == [(e.order_id, e.reason) for e in want_rejected]
    assert all(isinstance(e.payload, dict | list | str | int | float | None) for e in got_rejected)
    assert len(got) == len(want)
    for typed, careful in zip(got, want, strict=True):
        row, expected = flatten_order(typed), flatten_order(careful)
        assert row[:-1] == expected[:-1], careful.core.id
        assert orjson.loads(row[-1]) == orjson.loads(expected[-1])  # the payload's text, as JSON
        stones = typed.milestones if typed.milestones is not None else milestones(typed.payload)
        assert stones == milestones(careful.payload)
        assert (typed.core.id, typed.core.state, typed.core.updated_at) == (
            careful.core.id,
            careful.core.state,
            careful.core.updated_at,
        )
        assert typed.payload == careful.payload


@pytest.mark.parametrize("profile", [None, *DATA_PROFILES])
def test_typed_records_give_the_careful_rows_under_every_data_profile(profile: str | None) -> None:
    sandbox = Sandbox(SandboxConfig(seed=7, orders=600, data_profile=profile))
    records = [orjson.loads(r.raw) for r in sandbox._orders.values()]
    _both_routes(records)
    typed = parse_orders(order_records(orjson.dumps(records)))[0]
    assert sum(o.row is not None for o in typed) == len(records)  # every generated order is regular


def test_a_value_of_another_type_takes_the_careful_route_with_the_same_result() -> None:
    sandbox = Sandbox(SandboxConfig(seed=3, orders=len(MUTATIONS) * 3))
    originals = [orjson.loads(r.raw) for r in sandbox._orders.values()]
    mutated = [_mutated(record, *MUTATIONS[i % len(MUTATIONS)]) for i, record in enumerate(originals)]
    _both_routes(mutated)
    _both_routes([_mutated(record, *SAME_TYPES[i % len(SAME_TYPES)]) for i, record in enumerate(originals)])
    for path, value in MUTATIONS:
        (record,) = order_records(orjson.dumps([_mutated(originals[0], path, value)]))
        parsed, _ = parse_orders([record])
        assert not parsed or parsed[0].row is None, (path, value)  # never read on the typed route
    for path, value in SAME_TYPES:
        (record,) = order_records(orjson.dumps([_mutated(originals[0], path, value)]))
        assert parse_orders([record])[0][0].row is not None, (path, value)
    # records that are not orders at all
    _both_routes([1, "order", None, [], {}, {"id": "a"}])


def test_a_regular_record_is_never_made_into_a_dict_on_its_way_to_a_row() -> None:
    sandbox = Sandbox(SandboxConfig(seed=1, orders=5))
    records = order_records(orjson.dumps([orjson.loads(r.raw) for r in sandbox._orders.values()]))
    parsed, _ = parse_orders(records)
    for record, order in zip(records, parsed, strict=True):
        assert record.get("id") == order.core.id
        assert record.get("updated_at") is not None
        assert record._payload is None  # the keyset's and the probe's reads came from the typed order
        assert flatten_order(order)[-1] == record.raw.decode()  # the payload kept as Wish sent it


class _Clock:
    """A clock that moves only when the client sleeps (its retries' budget passes at once)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _client(body: bytes) -> WishClient:
    clock = _Clock()
    return WishClient(
        "https://wish.test/api/v3",
        TokenSet(SecretStr("t")),
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, content=body)),
        sleep=clock.sleep,
        clock=clock,
    )


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (b"<html>", WishRetryableError, "not valid JSON"),
        (b'{"code": 0, "data": [{"id": "a\\ud800"}]}', WishRetryableError, "not valid JSON"),
        (b"[1, 2]", WishRetryableError, "not a Wish envelope"),
        (b'{"code": 0, "message": ""}', WishRetryableError, "not a Wish envelope"),
        (b'{"code": 1004, "message": "no", "data": []}', WishError, "Wish code 1004"),
        (b'{"code": 0, "data": {"id": "a"}}', WishRetryableError, "data is not a list"),
    ],
)
def test_the_typed_listing_judges_an_answer_as_the_plain_one(body: bytes, error: type, match: str) -> None:
    with _client(body) as client:
        with pytest.raises(error, match=match):
            client.list_orders(limit=1, typed=True)
        with pytest.raises(error, match=match):
            client.list_orders(limit=1)


def test_the_typed_listing_reads_a_wish_page() -> None:
    body = orjson.dumps({"code": 0, "message": "", "data": [{"id": "a", "state": "APPROVED"}, 5]})
    with _client(body) as client:
        records = client.list_orders(limit=2, typed=True)
        assert client.list_orders(limit=2) == [record.payload for record in records]
    assert all(isinstance(record, OrderRecord) for record in records)
    assert records[0].order is None  # no updated_at: irregular, judged by the careful route
    parsed, rejected = parse_orders(records)
    assert parsed == []
    assert [e.order_id for e in rejected] == ["a", None]
    assert rejected[1].payload == 5  # what is not an order is quarantined as it came
