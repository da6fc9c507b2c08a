"""GET /orders: Wish's keyset pagination (limit, sort, inclusive filters, ties) and fast serving."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from wishflow.sandbox import Sandbox, SandboxConfig
from wishflow.sandbox.model import STATES


def page(api: httpx.Client, **params: object) -> list[dict]:
    response = api.get("/orders", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0
    assert body["message"] == ""
    return body["data"]


def test_default_page_is_50_newest_updated_first(api: httpx.Client) -> None:
    orders = page(api)
    assert len(orders) == 50
    keys = [(o["updated_at"], o["id"]) for o in orders]
    assert keys == sorted(keys, reverse=True)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "abc"])
def test_limit_outside_1_to_500_is_a_400_with_code_1001(api: httpx.Client, limit: str) -> None:
    response = api.get("/orders", params={"limit": limit})
    assert response.status_code == 400
    assert response.json() == {"code": 1001, "message": "limit must be an integer between 1 and 500"}


def test_limit_500_is_allowed(api: httpx.Client, admin: httpx.Client) -> None:
    admin.post("/orders", json={"count": 600}).raise_for_status()
    assert len(page(api, limit=500)) == 500


@pytest.mark.parametrize("sort_by", ["updated_at", "released_at"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_by_each_timestamp_and_direction(api: httpx.Client, sort_by: str, direction: str) -> None:
    orders = page(api, limit=500, sort_by=f"{sort_by}.{direction}")
    keys = [(o[sort_by], o["id"]) for o in orders]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert len(orders) == 120


def test_bad_sort_by_is_rejected(api: httpx.Client) -> None:
    response = api.get("/orders", params={"sort_by": "id.asc"})
    assert response.status_code == 400
    assert response.json()["code"] == 1001


def test_min_and_max_filters_are_inclusive(api: httpx.Client, admin: httpx.Client) -> None:
    stamps = ["2025-02-01T00:00:00.000Z", "2025-02-02T00:00:00.000Z", "2025-02-03T00:00:00.000Z"]
    ids = admin.post("/orders", json={"orders": [{"updated_at": s} for s in stamps]}).json()["ids"]
    got = page(api, updated_at_min=stamps[0], updated_at_max=stamps[2], sort_by="updated_at.asc")
    assert [o["id"] for o in got] == ids
    got = page(api, updated_at_min="2025-02-01T00:00:00.001Z", updated_at_max=stamps[2])
    assert {o["id"] for o in got} == set(ids[1:])
    got = page(api, released_at_min=stamps[1], released_at_max=stamps[1], sort_by="released_at.asc")
    assert [o["id"] for o in got] == [ids[1]]


def test_bad_timestamp_filter_is_rejected(api: httpx.Client) -> None:
    response = api.get("/orders", params={"updated_at_min": "yesterday"})
    assert response.status_code == 400
    assert response.json()["code"] == 1001


def test_states_filter_comma_separated_or_repeated(api: httpx.Client) -> None:
    both = page(api, limit=500, states="SHIPPED,REFUNDED")
    assert both
    assert {o["state"] for o in both} <= {"SHIPPED", "REFUNDED"}
    repeated = api.get("/orders", params=[("limit", 500), ("states", "SHIPPED"), ("states", "REFUNDED")]).json()
    assert [o["id"] for o in repeated["data"]] == [o["id"] for o in both]
    everything = page(api, limit=500)
    assert len(both) == sum(o["state"] in ("SHIPPED", "REFUNDED") for o in everything)


def test_unknown_state_is_rejected(api: httpx.Client) -> None:
    response = api.get("/orders", params={"states": "DELIVERED"})
    assert response.status_code == 400
    assert response.json()["code"] == 1001


def test_order_type_filter(api: httpx.Client) -> None:
    express = page(api, limit=500, order_type="WISH_EXPRESS")
    assert express
    assert all("WISH_EXPRESS" in o["fulfillment_order_types"] for o in express)
    assert api.get("/orders", params={"order_type": "BOGUS"}).status_code == 400


def test_ties_at_page_edges_are_stable_by_id(api: httpx.Client, admin: httpx.Client) -> None:
    """1,200 orders share one updated_at: pages of 500 return them in a stable (id) order, and a
    keyset client that re-reads the tied timestamp sees the same order every time.
    """
    tie = "2025-02-20T10:00:00.000Z"
    ids = admin.post("/orders", json={"orders": [{"updated_at": tie}] * 1200}).json()["ids"]
    first = page(api, limit=500, updated_at_min=tie, updated_at_max=tie, sort_by="updated_at.asc")
    again = page(api, limit=500, updated_at_min=tie, updated_at_max=tie, sort_by="updated_at.asc")
    assert [o["id"] for o in first] == [o["id"] for o in again] == sorted(ids)[:500]
    desc = page(api, limit=500, updated_at_min=tie, updated_at_max=tie)
    assert [o["id"] for o in desc] == sorted(ids, reverse=True)[:500]
    # the classic tie trap: advancing the keyset past the tie skips 700 orders
    after = page(api, limit=500, updated_at_min="2025-02-20T10:00:00.001Z", sort_by="updated_at.asc")
    assert not set(ids) & {o["id"] for o in after}
    all_tied = page(api, limit=500, updated_at_max=tie, updated_at_min=tie, released_at_max="2030-01-01")
    assert len(all_tied) == 500


def test_orders_match_the_spec_order_shape(api: httpx.Client) -> None:
    order = page(api, limit=1)[0]
    assert len(order["id"]) == 24
    assert int(order["id"], 16) >= 0
    for key in ("released_at", "updated_at"):
        assert datetime.strptime(order[key], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert len(order[key]) == 24
    details = order["order_payment"]["general_payment_details"]
    assert set(details["product_price"]) == {"amount", "currency_code"}
    assert {"name", "street_address1", "city", "state", "zipcode", "country_code", "phone_number"} <= set(
        order["full_address"]["shipping_detail"]
    )
    released = datetime.strptime(order["released_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    ship_by = datetime.strptime(order["fulfillment_requirements"]["expected_ship_time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert (ship_by - released).days == 5


def test_get_order_and_not_found(api: httpx.Client) -> None:
    order = page(api, limit=1)[0]
    assert api.get(f"/orders/{order['id']}").json()["data"] == order
    missing = api.get("/orders/0123456789abcdef01234567")
    assert missing.status_code == 400
    assert missing.json()["code"] == 1004
    malformed = api.get("/orders/not-an-id")
    assert malformed.status_code == 400
    assert malformed.json()["code"] == 1001


class _CountingOrders(dict):  # type: ignore[type-arg]
    """The sandbox's order map, counting the records a list reads (a scan would read them all)."""

    reads = 0

    def __getitem__(self, key: str) -> object:
        self.reads += 1
        return super().__getitem__(key)


class _CountingKeys(list):  # type: ignore[type-arg]
    """One of the sandbox's sorted indexes, counting the keys read (bisect's probes and the walk's)."""

    reads = 0

    def __getitem__(self, index: Any) -> Any:
        self.reads += 1
        return super().__getitem__(index)


#: 20,000 one-second steps before the sandbox's clock in the 100k-order test: the newest 20,000 orders
NEWEST_20K_FROM = "2025-02-28T18:26:40.000Z"


def test_pages_of_100k_orders_read_only_the_page_never_scan() -> None:
    """A page reads at most ``limit`` records whatever the history: bisect into the index, then merge.

    Counted, not timed (speed is bench/'s): a scan or a sort of the history would read 100,000.
    """
    sandbox = Sandbox(SandboxConfig(seed=1, start_time=datetime(2025, 3, 1, tzinfo=UTC)))
    sandbox.create_default_orders(100_000)
    counting = _CountingOrders(sandbox._orders)
    sandbox._orders = counting
    indexes = {key: _CountingKeys(keys) for key, keys in sandbox._idx.items()}
    sandbox._idx = indexes

    def key_reads() -> int:
        return sum(keys.reads for keys in indexes.values())

    newest = sandbox.list_orders_raw(limit=500)
    assert len(newest) == 500
    assert counting.reads == 500
    assert key_reads() <= len(STATES) * (500 + 1)  # at most a page from each state's index
    counting.reads, before = 0, key_reads()
    for _ in range(100):
        asc = sandbox.list_orders_raw(
            limit=500, sort_by="updated_at.asc", states="APPROVED,SHIPPED", updated_at_min=NEWEST_20K_FROM
        )
        assert len(asc) == 500
    assert counting.reads == 100 * 500
    # two states: each bisected (about 17 probes of 100,000 keys), then walked a page at most
    assert key_reads() - before <= 100 * 2 * (2 * 20 + 500 + 1)
    # a keyset walk over the newest 20,000 (strictly after the last key seen) misses nothing
    seen: set[str] = set()
    low = NEWEST_20K_FROM
    while True:
        rows = sandbox.list_orders(limit=500, sort_by="updated_at.asc", updated_at_min=low)
        fresh = [o["id"] for o in rows if o["id"] not in seen]
        if not fresh:
            break
        seen.update(fresh)
        low = rows[-1]["updated_at"]
    assert len(seen) == 20_000
