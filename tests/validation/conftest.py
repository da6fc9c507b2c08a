"""Builders for order rows as the warehouse holds them (flattened ``orders`` columns)."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

#: The clock of these tests: real time (the views compute hours left from the database clock).
NOW = datetime.now(UTC).replace(microsecond=0)


def good_order(order_id: str, **changes: Any) -> dict[str, Any]:
    """A valid APPROVED order to a US address, released a day before ``NOW``."""
    row: dict[str, Any] = {
        "order_id": order_id,
        "transaction_id": f"t-{order_id}",
        "state": "APPROVED",
        "released_at": NOW - timedelta(days=1),
        "updated_at": NOW - timedelta(hours=1),
        "expected_ship_time": NOW + timedelta(days=4),
        "sku": f"SKU-{order_id}",
        "quantity": 1,
        "product_price": Decimal("9.99"),
        "shipping_price": Decimal("2.00"),
        "payment_total": Decimal("10.50"),
        "currency_code": "USD",
        "recipient_name": "Ann Lee",
        "street_address1": f"{zlib.crc32(order_id.encode()) % 9000 + 1} Main St",
        "street_address2": None,
        "street_address3": None,
        "city": "Springfield",
        "province": "IL",
        "zipcode": "62701",
        "country_code": "US",
        "phone_number": "+1 217 555 0100",
        "is_wish_express": False,
        "is_confirmed_delivery": False,
        "tracking_number": None,
        "processing_status": None,
    }
    row.update(changes)
    return row


#: Keys of a test order row that describe its SKU rather than the order (see :func:`insert_orders`).
SKU_KEYS = ("sku_weight_grams", "sku_length_mm", "sku_width_mm", "sku_height_mm")


def insert_orders(engine: sa.Engine, store: str, rows: Iterable[dict[str, Any]], *, replace: bool = False) -> None:
    """Write rows straight into ``orders`` (the pull flow's job in production)."""
    from wishflow.warehouse.schema import orders
    from wishflow.warehouse.shipping_schema import shipping_skus
    from wishflow.warehouse.validation_schema import order_validation_queue as queue

    loaded = datetime.now(UTC)
    rows = list(rows)
    # ``sku_*`` keys describe the SKU (unit weight and size): they go to the SKU table, as the
    # merchant's SKU CSV would put them
    skus = {
        r["sku"]: {k.removeprefix("sku_"): r.get(k) for k in SKU_KEYS}
        for r in rows
        if any(r.get(k) is not None for k in SKU_KEYS)
    }
    rows = [{k: v for k, v in r.items() if k not in SKU_KEYS} for r in rows]
    payload = [
        {"input_problems": None, **r, "store": store, "raw": {"id": r["order_id"]}, "_loaded_at": loaded} for r in rows
    ]
    ids = [r["order_id"] for r in payload]
    with engine.begin() as conn:
        if replace:
            conn.execute(orders.delete().where(orders.c.store == store, orders.c.order_id.in_(ids)))
            conn.execute(queue.delete().where(queue.c.store == store, queue.c.order_id.in_(ids)))
        conn.execute(orders.insert(), payload)
        if skus:
            conn.execute(
                shipping_skus.insert(),
                [{"store": store, "sku": sku, **dims, "_loaded_at": loaded} for sku, dims in skus.items()],
            )
        # as the loader does: every new or newer version awaits a verdict
        conn.execute(
            queue.insert(),
            [
                {"store": store, "order_id": r["order_id"], "updated_at": r["updated_at"], "queued_at": loaded}
                for r in payload
            ],
        )


@pytest.fixture
def seed(engine: sa.Engine) -> Callable[..., None]:
    def _seed(rows: Iterable[dict[str, Any]], store: str = "default", replace: bool = False) -> None:
        insert_orders(engine, store, rows, replace=replace)

    return _seed
