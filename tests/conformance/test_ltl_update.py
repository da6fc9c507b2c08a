"""``PUT /orders/{id}`` (UpdateOrder, "Update an LTL order"): valid requests are accepted and applied,
invalid ones rejected, every answer as Wish's spec describes it.

The spec's rules (``UpdateOrder``): LTL orders only; ``tracking_url`` and ``delivery_receipt_file_url``
each 1-300 characters, either may replace the other; ``delivered_at`` a date-time, for an order the
merchant marked shipped, up to 90 days after marking it; synchronous, answering the Order.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from wishflow.sandbox import RunningSandbox
from wishflow.sandbox import errors as E
from wishflow.sandbox.timeutil import fmt_ms

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec_check import Checker  # noqa: E402

LTL_TYPES = ["FULFILLED_BY_STORE", "LESS_THAN_TRUCKLOAD"]
US = {"full_address": {"shipping_detail": {"country_code": "US"}}}
TRACKING = {"shipping_provider": "UPS", "origin_country": "US"}


def create(admin: httpx.Client, types: list[str]) -> str:
    (order_id,) = admin.post("/orders", json={"orders": [{**US, "fulfillment_order_types": types}]}).json()["ids"]
    return str(order_id)


def milestones(order: dict[str, Any], kind: str) -> list[str]:
    return [r["event_time"] for r in order["fulfillment_records"] if r["event_type"] == kind]


@pytest.fixture
def shipped_ltl(check: Checker, admin: httpx.Client) -> str:
    order_id = create(admin, LTL_TYPES)
    check.call("PUT", f"/api/v3/orders/{order_id}/tracking", json={**TRACKING, "tracking_number": "1Z999AA10123456784"})
    admin.post("/clock", json={"advance_seconds": 3600}).raise_for_status()
    assert check.call("GET", f"/api/v3/orders/{order_id}")["state"] == "SHIPPED"
    return order_id


def test_valid_updates_are_accepted_and_applied(
    check: Checker, admin: httpx.Client, running: RunningSandbox, shipped_ltl: str
) -> None:
    path = f"/api/v3/orders/{shipped_ltl}"
    before = check.call("GET", path)
    # a tracking link alone: accepted, the order answered as it is (no delivery to record yet)
    order = check.call("PUT", path, json={"tracking_url": "https://freight.example/track/AB123"})
    assert order["id"] == shipped_ltl
    assert milestones(order, "CONFIRMED_DELIVERED") == []
    assert order["fulfillment_records"] == before["fulfillment_records"]
    # a receipt and the delivery time: the delivery becomes the order's milestone, synchronously
    delivered = fmt_ms(running.sandbox.now_ms() - 600_000)
    body = {"delivery_receipt_file_url": "https://files.example/receipt.pdf", "delivered_at": delivered}
    order = check.call("PUT", path, json=body)
    assert milestones(order, "CONFIRMED_DELIVERED") == [delivered]
    assert milestones(order, "CONFIRM_FULFILLED")  # a delivered load was picked up
    assert order["updated_at"] > before["updated_at"]
    assert check.call("GET", path)["fulfillment_records"] == order["fulfillment_records"]
    # the same update again changes nothing; a corrected time replaces the first (one milestone)
    assert check.call("PUT", path, json=body)["fulfillment_records"] == order["fulfillment_records"]
    corrected = fmt_ms(running.sandbox.now_ms() - 300_000)
    order = check.call("PUT", path, json={"tracking_url": "https://freight.example/t/1", "delivered_at": corrected})
    assert milestones(order, "CONFIRMED_DELIVERED") == [corrected]
    # the order is listed with it too (the pull sees the update)
    listed = check.call("GET", "/api/v3/orders", params={"updated_at_min": order["updated_at"], "limit": 10})
    assert shipped_ltl in [o["id"] for o in listed]
    writes = admin.get(f"/orders/{shipped_ltl}/writes").json()["writes"]
    assert [w["outcome"] for w in writes if w["endpoint"] == "ltl_update"] == ["accepted"] * 4


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({}, "neither link nor receipt"),
        ({"delivered_at": "2025-03-01T10:00:00Z"}, "a time without link or receipt"),
        ({"tracking_url": ""}, "shorter than minLength 1"),
        ({"tracking_url": "https://x.example/" + "a" * 300}, "longer than maxLength 300"),
        ({"delivery_receipt_file_url": 42}, "not a string"),
        ({"tracking_url": "https://x.example/t", "delivered_at": "yesterday"}, "not a date-time"),
        ({"tracking_url": "https://x.example/t", "delivered_at": "2031-01-01T00:00:00Z"}, "in the future"),
        ({"tracking_url": "https://x.example/t", "delivered_at": "2020-01-01T00:00:00Z"}, "before marking shipped"),
        ({"tracking_url": "https://x.example/t", "tracking_number": "1Z"}, "not a field of UpdateOrder"),
        (["https://x.example/t"], "not an object"),
    ],
)
def test_invalid_bodies_are_rejected(
    check: Checker, admin: httpx.Client, shipped_ltl: str, body: Any, why: str
) -> None:
    path = f"/api/v3/orders/{shipped_ltl}"
    before = check.call("GET", path)
    error = check.call("PUT", path, json=body, expect=400)
    assert error["code"] == E.INVALID_PARAMETER, why
    assert check.call("GET", path) == before  # nothing applied
    writes = admin.get(f"/orders/{shipped_ltl}/writes").json()["writes"]
    assert writes[-1]["endpoint"] == "ltl_update"
    assert writes[-1]["outcome"] == "rejected"


def test_only_shipped_ltl_orders_within_90_days(check: Checker, admin: httpx.Client, running: RunningSandbox) -> None:
    link = {"tracking_url": "https://freight.example/track/1"}
    plain = create(admin, ["FULFILLED_BY_STORE"])
    assert check.call("PUT", f"/api/v3/orders/{plain}", json=link, expect=400)["code"] == E.NOT_LTL_ORDER
    ltl = create(admin, LTL_TYPES)
    assert check.call("PUT", f"/api/v3/orders/{ltl}", json=link, expect=400)["code"] == E.LTL_NOT_SHIPPED
    assert check.call("PUT", "/api/v3/orders/0123456789abcdef01234567", json=link, expect=400)["code"] == E.NOT_FOUND
    assert check.call("PUT", "/api/v3/orders/not-an-id", json=link, expect=400)["code"] == E.INVALID_PARAMETER
    check.call("PUT", f"/api/v3/orders/{ltl}/tracking", json={**TRACKING, "tracking_number": "1Z999AA10123456785"})
    check.call("PUT", f"/api/v3/orders/{ltl}", json=link)
    admin.post("/clock", json={"advance_seconds": 91 * 86400}).raise_for_status()
    running.sandbox.issue_token()  # tokens last 30 sandbox days
    assert check.call("PUT", f"/api/v3/orders/{ltl}", json=link, expect=400)["code"] == E.LTL_WINDOW_OVER


def test_fbw_orders_are_shipped_by_wish_not_the_merchant(check: Checker, admin: httpx.Client) -> None:
    fbw = create(admin, ["WISH_EXPRESS", "FULFILLED_BY_WISH"])
    order = check.call("GET", f"/api/v3/orders/{fbw}")
    assert order["warehouse_information"]["fbw_information"]["fbw_warehouse_code"]
    tracking = {**TRACKING, "tracking_number": "1Z999AA10123456786"}
    error = check.call("PUT", f"/api/v3/orders/{fbw}/tracking", json=tracking, expect=400)
    assert error["code"] == E.FULFILLED_BY_WISH
    admin.post("/clock", json={"advance_seconds": 25 * 3600}).raise_for_status()
    order = check.call("GET", f"/api/v3/orders/{fbw}")
    assert order["state"] == "SHIPPED"
    assert order["tracking_information"][0]["shipping_provider"]["name"] == "WishPost"
    assert order["refunds"] == []
    assert order["penalties"] == []
