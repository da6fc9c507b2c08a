"""The sandbox's generated data under every data profile keep the spec's shapes: orders (other
currencies, FBW, LTL, Wish Express) and penalties (reversed ones included) validate against Wish's
OpenAPI file, and each profile really holds what it promises.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from wishflow.sandbox import RunningSandbox
from wishflow.sandbox.programs import DATA_PROFILES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spec_check import Checker  # noqa: E402


def money(node: object) -> list[dict]:
    """Every Money / Price object in a payload."""
    if isinstance(node, dict):
        if "amount" in node and "currency_code" in node:
            return [node]
        return [m for v in node.values() for m in money(v)]
    if isinstance(node, list):
        return [m for v in node for m in money(v)]
    return []


@pytest.mark.parametrize("name", sorted(DATA_PROFILES))
def test_generated_orders_and_penalties_conform(
    check: Checker, admin: httpx.Client, running: RunningSandbox, name: str
) -> None:
    profile = DATA_PROFILES[name]
    admin.put("/data_profile", json={"name": name}).raise_for_status()
    admin.post("/orders", json={"count": 150, "mix": True, "spread_seconds": 3 * 86400}).raise_for_status()
    orders = check.call("GET", "/api/v3/orders", params={"limit": 500})
    assert len(orders) == 150
    types = Counter(t for o in orders for t in o["fulfillment_order_types"])
    assert (types["FULFILLED_BY_WISH"] > 0) == (profile.fbw_share > 0)
    assert (types["LESS_THAN_TRUCKLOAD"] > 0) == (profile.ltl_share > 0)
    for order in orders:
        currencies = {m["currency_code"] for m in money(order["order_payment"])}
        assert len(currencies) == 1, "one order's money is in one currency (the merchant's)"
        fbw = "FULFILLED_BY_WISH" in order["fulfillment_order_types"]
        assert ("fbw_information" in order["warehouse_information"]) == fbw
        assert not (fbw and "FULFILLED_BY_STORE" in order["fulfillment_order_types"])
    seen = Counter(next(iter({m["currency_code"] for m in money(o["order_payment"])})) for o in orders)
    expected = {profile.currency} | ({profile.second_currency} if profile.second_currency else set())
    assert set(seen) == expected
    # a week on: unshipped orders are refunded with penalties; the profile's share is reversed
    admin.post("/clock", json={"advance_seconds": 8 * 86400}).raise_for_status()
    running.sandbox.issue_token()
    penalties = check.call("GET", "/api/v3/penalties", params={"limit": 500})
    assert penalties
    by_order = {o["id"]: o for o in check.call("GET", "/api/v3/orders", params={"limit": 500})}
    for p in penalties:
        order_money = money(by_order[p["related_entity_id"]]["order_payment"])
        assert p["penalty_amount"]["currency_code"] == order_money[0]["currency_code"]
        assert ("reversed_at" in p) == p["reversed"]
    reversed_ = [p for p in penalties if p["reversed"]]
    assert bool(reversed_) == (profile.reversal_share > 0)
    if reversed_:
        again = check.call("GET", "/api/v3/penalties", params={"reversed_at_min": "2000-01-01T00:00:00Z", "limit": 500})
        assert {p["id"] for p in again} == {p["id"] for p in reversed_}
        check.call("GET", f"/api/v3/penalties/{reversed_[0]['id']}")
    fbw_ids = [i for i, o in by_order.items() if "FULFILLED_BY_WISH" in o["fulfillment_order_types"]]
    assert all(
        by_order[i]["state"] != "REFUNDED" or by_order[i]["refunds"][0]["refund_source"] != "WISH" for i in fbw_ids
    )


def test_a_generated_history_has_no_instant_holding_a_crowd() -> None:
    """Orders drawn shipped or refunded but released too recently for the drawn delay took the step
    sooner, spread over their time since release: not all stamped at the generation's instant (4% of
    the history on one millisecond before, which every first pull after a backfill re-read whole).
    Every step still falls between the order's release and the generation's clock.
    """
    import orjson

    from wishflow.orders.flatten import parse_wish_time
    from wishflow.sandbox.core import Sandbox, SandboxConfig

    sandbox = Sandbox(SandboxConfig(seed=11, orders=20_000))
    records = list(sandbox._orders.values())
    now_ms = sandbox.now_ms()
    ties = Counter(r.updated_ms for r in records)
    assert max(ties.values()) <= 10
    assert sum(r.updated_ms >= now_ms - 60_000 for r in records) < 50
    stepped = 0
    for rec in records:
        if rec.state not in ("SHIPPED", "REFUNDED"):
            continue
        doc = orjson.loads(rec.raw)
        steps = [r["event_time"] for r in doc["fulfillment_records"] if r["event_type"] == "MARK_SHIPPED"]
        steps += [r["refund_time"] for r in doc["refunds"]]
        assert steps
        for step in steps:
            at = parse_wish_time(step)
            assert at is not None
            assert rec.released_ms <= round(at.timestamp() * 1000) <= rec.updated_ms <= now_ms
        stepped += 1
    assert stepped > 1_000
