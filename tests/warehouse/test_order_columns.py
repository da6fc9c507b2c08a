"""The ``orders`` column list is derived from the table, and the flattened row follows it."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from wishflow.orders.flatten import MILESTONE_COLUMNS, ORDER_COLUMNS, flatten_order
from wishflow.orders.parse import parse_orders
from wishflow.orders.records import order_records
from wishflow.warehouse.schema import ORDER_LOADER_COLUMNS, orders

PAYLOAD = {
    "id": "o-1",
    "transaction_id": "t-1",
    "state": "APPROVED",
    "released_at": "2026-01-02T03:04:05.000Z",
    "updated_at": "2026-01-02T04:00:00.000Z",
    "product_information": {"id": "p-1", "name": "Lamp", "variation_id": "v-1", "sku": "SKU-9"},
    "order_payment": {"general_payment_details": {"product_quantity": 2}},
    "full_address": {"shipping_detail": {"name": "Ada", "city": "Lyon", "country_code": "FR"}},
    "fulfillment_order_types": ["WISH_EXPRESS"],
}


def test_the_payload_columns_are_every_table_column_but_the_loaders() -> None:
    generated = {c.name for c in orders.columns if c.computed is not None}  # money's exact twins, never written
    assert generated
    assert not generated & set(ORDER_COLUMNS)
    assert set(ORDER_COLUMNS) | set(ORDER_LOADER_COLUMNS) | generated == {c.name for c in orders.columns}
    assert list(ORDER_COLUMNS) == [c.name for c in orders.columns if c.name in ORDER_COLUMNS]


def test_a_flattened_order_puts_each_value_under_its_column() -> None:
    (parsed,), errors = parse_orders([PAYLOAD])
    assert errors == []
    row = dict(zip(ORDER_COLUMNS, flatten_order(parsed), strict=True))  # one value per column, no more
    assert (row["order_id"], row["transaction_id"], row["state"]) == ("o-1", "t-1", "APPROVED")
    assert (row["sku"], row["quantity"], row["city"], row["country_code"]) == ("SKU-9", 2, "Lyon", "FR")
    assert row["is_wish_express"] is True
    assert row["order_types"] == "WISH_EXPRESS"
    assert '"id"' in row["raw"]


@pytest.mark.parametrize("route", ["careful", "typed"])
def test_each_milestone_lands_under_its_own_column(route: str) -> None:
    """The milestone columns are filled by position (``flatten.milestone_times``), on both routes."""
    events = [
        ("MARK_SHIPPED", "2026-01-03T00:00:00.000Z"),
        ("CONFIRM_FULFILLED", "2026-01-04T00:00:00.000Z"),
        ("CONFIRMED_DELIVERED", "2026-01-09T00:00:00.000Z"),
        ("TRACKING_CANCELLED", "2026-01-05T00:00:00.000Z"),
        ("TRACKING_CANCELLED", "2026-01-06T00:00:00.000Z"),  # the latest one is kept
    ]
    assert {event for event, _ in events} == set(MILESTONE_COLUMNS)
    payload = {**PAYLOAD, "fulfillment_records": [{"event_type": e, "event_time": t} for e, t in events]}
    records = [payload] if route == "careful" else order_records(orjson.dumps([payload]))
    (parsed,), errors = parse_orders(records)
    assert errors == []
    assert (parsed.row is not None) is (route == "typed")
    row = dict(zip(ORDER_COLUMNS, flatten_order(parsed), strict=True))
    day = {"shipped_at": 3, "first_scan_at": 4, "delivered_at": 9, "tracking_cancelled_at": 6}
    assert {column: row[column] for column in day} == {c: datetime(2026, 1, d, tzinfo=UTC) for c, d in day.items()}
