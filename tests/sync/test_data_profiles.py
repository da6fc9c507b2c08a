"""The pipeline over the sandbox's data profiles (wishflow/sandbox/programs.py): real HTTP, real
warehouses.

- Currencies: every amount is stored with its own currency, and the daily summary and the report
  give money per currency (never one sum across currencies).
- FBW: Wish ships Fulfilled-by-Wish orders; the shipping stage never plans them (LTL and Wish
  Express orders are shipped by the merchant, so they are planned).
- Penalty reversals: a reversed penalty is synced onto the same row (not a second penalty, not a
  stale one), and the action list stops asking the merchant to review it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from wishflow.actions.queues import action_items, queue_counts
from wishflow.aftersales import daily_summary, render_markdown, sync_penalties, sync_refunds, update_follow_ups
from wishflow.api.auth import TokenSet
from wishflow.api.client import RetryPolicy, WishClient
from wishflow.orders.flatten import ORDER_COLUMNS, flatten_order
from wishflow.orders.parse import parse_orders
from wishflow.pull import PullWindow, plan_window, pull_chunk
from wishflow.report.data import collect
from wishflow.sandbox import Sandbox, SandboxConfig
from wishflow.shipping.ready import not_ready_reasons, ready_orders
from wishflow.tracking.run import poll_once
from wishflow.validation.pipeline import validate_pending
from wishflow.warehouse.aftersales_schema import follow_ups, penalties, refunds
from wishflow.warehouse.schema import orders
from wishflow.warehouse.tracking_schema import shipment_tracking, tracking_exceptions

STORE = "s"
#: ahead of real time (the sandbox clock never goes back), early in a UTC day
START = (datetime.now(UTC) + timedelta(days=3)).replace(hour=6, minute=0, second=0, microsecond=0)


class Wish:
    """The sandbox's admin API and a Wish client on its API."""

    def __init__(self, sandbox: Any, start: datetime = START) -> None:
        self.sandbox = sandbox
        self.admin = httpx.Client(base_url=f"{sandbox.base_url}/sandbox", timeout=120)
        self.freeze(start)

    def freeze(self, when: datetime) -> None:
        self.post("/clock", json={"now": when.isoformat(), "running": False})

    def post(self, path: str, **kw: Any) -> Any:
        response = self.admin.post(path, **kw)
        response.raise_for_status()
        return response.json()

    def profile(self, name: str) -> None:
        self.admin.put("/data_profile", json={"name": name}).raise_for_status()

    def advance(self, **delta: float) -> None:
        self.post("/clock", json={"advance_seconds": timedelta(**delta).total_seconds()})

    def client(self) -> WishClient:
        token = self.post("/oauth/token")["access_token"]  # a fresh token whatever the clock did
        return WishClient(self.sandbox.api_url, TokenSet(SecretStr(token)), retry=RetryPolicy(base=0.05, cap=0.2))


@pytest.fixture
def wish(sandbox: Any) -> Any:
    w = Wish(sandbox)
    yield w
    w.admin.close()


def pull(client: WishClient, engine: sa.Engine) -> int:
    """One incremental pull of the store (the window, then the future sweep)."""
    window = plan_window(engine, STORE, now=client.server_now(), safety_lag=timedelta(0))
    new = 0
    for current in [window, window.future_sweep()]:
        position = None
        while current is not None:
            chunk = pull_chunk(client, engine, STORE, PullWindow.from_json(current.to_json()), position, page_size=200)
            new += chunk.load.new
            position = chunk.next_position
            if position is None:
                break
    return new


def table(engine: sa.Engine, t: sa.Table) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).where(t.c.store == STORE)).mappings()]


def test_every_amount_keeps_its_currency_and_no_figure_mixes_them(wish: Wish, engine: sa.Engine) -> None:
    wish.profile("mixed_currencies")  # the merchant is paid in USD for some orders and EUR for others
    wish.post("/orders", json={"count": 40, "mix": True, "spread_seconds": 3600})
    with wish.client() as client:
        client.test_token()
        assert pull(client, engine) == 40
        payloads = {o["id"]: o for o in client.list_orders(limit=500)}
    stored = table(engine, orders)
    for row in stored:
        total = payloads[row["order_id"]]["order_payment"]["general_payment_details"]["payment_total"]
        assert row["currency_code"] == total["currency_code"]
        assert row["payment_total"] == Decimal(str(total["amount"]))
    assert {r["currency_code"] for r in stored} == {"USD", "EUR"}
    # five days on, Wish refunds every order not shipped and fines the merchant, in the order's currency
    wish.advance(days=5, hours=1)
    with wish.client() as client:
        client.test_token()
        pull(client, engine)
        sync_refunds(engine, STORE)
        sync_penalties(client, engine, STORE)
    refunded = table(engine, refunds)
    fines = table(engine, penalties)
    assert {r["currency_code"] for r in refunded} == {"USD", "EUR"} == {p["currency_code"] for p in fines}
    by_order = {r["order_id"]: r["currency_code"] for r in stored}
    assert all(r["currency_code"] == by_order[r["order_id"]] for r in refunded)
    assert all(p["currency_code"] == by_order[p["order_id"]] for p in fines)
    day = Counter(r["refunded_at"].date() for r in refunded).most_common(1)[0][0]
    today = daily_summary(engine, STORE, day).today
    for figure, rows, column, when in (
        ("refund_amount", refunded, "refund_amount", "refunded_at"),
        ("penalty_amount", fines, "penalty_amount", "created_at"),
    ):
        expected: dict[str, Decimal] = {}
        for r in rows:
            if r[when].date() == day:
                expected[r["currency_code"]] = expected.get(r["currency_code"], Decimal(0)) + r[column]
        assert len(expected) == 2
        assert today[figure] == {c: v.quantize(Decimal("0.01")) for c, v in expected.items()}
    text = render_markdown(daily_summary(engine, STORE, day))
    line = next(x for x in text.splitlines() if x.startswith("| Refunded amount |"))
    # each currency its own figure, none summed across
    assert "USD" in line
    assert "EUR" in line
    report = collect(engine, STORE, now=START + timedelta(days=7), days=30)
    for money in report.refund_money:
        assert money.currency in {"USD", "EUR"}
        assert money.refunds > 0
    assert sum(report.refunds_by_reason.values()) == len(refunded)


def test_fbw_orders_are_never_planned_for_shipping(sandbox: Any, engine: sa.Engine) -> None:
    # the views count hours left on the database's clock: deadlines ten hours from real time
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    wish = Wish(sandbox, start=now)
    wish.profile("programs")
    released = (now - timedelta(days=5) + timedelta(hours=10)).isoformat()
    kinds = {
        "fbw": ["FULFILLED_BY_WISH"],
        "fbw_express": ["WISH_EXPRESS", "FULFILLED_BY_WISH"],
        "store": ["FULFILLED_BY_STORE"],
        "ltl": ["FULFILLED_BY_STORE", "LESS_THAN_TRUCKLOAD"],
        "express": ["WISH_EXPRESS", "FULFILLED_BY_STORE"],
    }
    ids = {
        kind: wish.post("/orders", json={"orders": [{"fulfillment_order_types": types, "released_at": released}]})[
            "ids"
        ][0]
        for kind, types in kinds.items()
    }
    with wish.client() as client:
        client.test_token()
        assert pull(client, engine) == len(kinds)
    verdict = validate_pending(engine, STORE, "test-fbw", now=now)
    assert verdict["invalid"] == 0
    merchant_ships = {ids["store"], ids["ltl"], ids["express"]}
    assert {o.order_id for o in ready_orders(engine, STORE)} == merchant_ships
    reasons = not_ready_reasons(engine, STORE, [ids["fbw"], ids["fbw_express"]])
    assert set(reasons) == {ids["fbw"], ids["fbw_express"]}
    assert all("Wish" in r for r in reasons.values())
    # nor are they waiting to ship, at risk or on the action list: Wish ships them (v_open_orders)
    assert queue_counts(engine, STORE).waiting_to_ship == 3
    at_risk = {a["order_id"] for a in action_items(engine, STORE) if a["kind"] == "order_at_risk"}
    assert at_risk == merchant_ships
    # a day on, Wish has shipped its FBW orders itself, never refunded nor fined the merchant
    wish.advance(days=1, hours=1)
    with wish.client() as client:
        client.test_token()
        pull(client, engine)
    states = {r["order_id"]: r for r in table(engine, orders)}
    for kind in ("fbw", "fbw_express"):
        assert states[ids[kind]]["state"] == "SHIPPED"
        assert states[ids[kind]]["shipping_provider"] == "WishPost"
    wish.admin.close()


def test_a_reversed_penalty_is_synced_onto_its_row_and_leaves_the_action_list(wish: Wish, engine: sa.Engine) -> None:
    wish.profile("plain")
    (order_id,) = wish.post("/orders", json={"orders": [{"fulfillment_order_types": ["FULFILLED_BY_STORE"]}]})["ids"]
    wish.advance(days=5, hours=1)  # not shipped: refunded and fined
    with wish.client() as client:
        client.test_token()
        now = client.server_now()
        sync_penalties(client, engine, STORE)
        (fine,) = table(engine, penalties)
        assert fine["order_id"] == order_id
        assert fine["reversed"] is False
        update_follow_ups(engine, STORE, now=now)
        open_reviews = [f for f in table(engine, follow_ups) if f["kind"] == "PENALTY_REVIEW"]
        assert [f["entity_id"] for f in open_reviews] == [fine["penalty_id"]]
        assert all(f["resolved_at"] is None for f in open_reviews)
        assert [a["kind"] for a in action_items(engine, STORE)] == ["penalty_to_review"]
        wish.advance(hours=6)
        reversal = wish.post(f"/penalties/{fine['penalty_id']}/reverse")
        assert reversal["reversed"] is True
        wish.advance(minutes=30)
        sync = sync_penalties(client, engine, STORE)
        assert sync.inserted == 0
        assert sync.updated == 1
        (after,) = table(engine, penalties)  # the same row, now reversed: not a second penalty
        assert after["penalty_id"] == fine["penalty_id"]
        assert after["reversed"] is True
        assert after["reversed_at"] is not None
        assert after["penalty_amount"] == fine["penalty_amount"]
        update_follow_ups(engine, STORE, now=client.server_now())
        (review,) = [f for f in table(engine, follow_ups) if f["kind"] == "PENALTY_REVIEW"]
        assert review["resolved_at"] is not None
        assert "reversed" in str(review["resolution"])
        assert action_items(engine, STORE) == []  # no review asked of a reversed penalty
        again = sync_penalties(client, engine, STORE)
        assert again.inserted == 0
        assert again.updated == 0


def test_penalties_reversed_over_time_are_all_synced(wish: Wish, engine: sa.Engine) -> None:
    """Under the penalty_reversals profile Wish reverses about half the penalties one to three days
    later; after a sync the warehouse agrees with Wish on every one.
    """
    wish.profile("penalty_reversals")
    wish.post("/orders", json={"count": 30, "spread_seconds": 600})
    wish.advance(days=5, hours=1)
    with wish.client() as client:
        client.test_token()
        sync_penalties(client, engine, STORE)
        assert not any(p["reversed"] for p in table(engine, penalties))
        for _ in range(4):
            wish.advance(days=1)
            sync_penalties(client, engine, STORE)
        truth = {p["id"]: p["reversed"] for p in client.request("GET", "/penalties", params={"limit": 500})}
    stored = {p["penalty_id"]: p["reversed"] for p in table(engine, penalties)}
    assert stored == truth
    assert 0 < sum(truth.values()) < len(truth)


def test_an_order_whose_money_mixes_currencies_is_an_input_problem() -> None:
    """One currency column stands beside an order's amounts: amounts in two currencies cannot be stored
    as one, so the order is flagged (and quarantined by validation), never stored under one code.
    """
    sandbox = Sandbox(SandboxConfig(seed=3, data_profile="merchant_cny"))
    (order_id,) = sandbox.create_orders([{}])
    order = sandbox.get_order(order_id)
    details = order["order_payment"]["general_payment_details"]
    assert details["payment_total"]["currency_code"] == "CNY"
    problems = ORDER_COLUMNS.index("input_problems")
    (parsed,), _ = parse_orders([order])
    assert flatten_order(parsed)[problems] is None
    details["product_shipping_price"] = {"amount": 2.5, "currency_code": "USD"}
    (parsed,), _ = parse_orders([order])
    assert "several currencies (CNY, USD)" in flatten_order(parsed)[problems]


def test_an_fbw_parcel_raises_no_tracking_exception_for_the_merchant(wish: Wish, engine: sa.Engine) -> None:
    """Parcels never scanned: the merchant's own is a tracking exception to act on; Wish's FBW parcel,
    tracked all the same, is not (Wish ships it).
    """
    config = wish.sandbox.sandbox.config  # the sandbox fixture restores the config for the next test
    config.never_scanned_share, config.delayed_share, config.cancelled_share = 1.0, 0.0, 0.0
    config.ship_processing_seconds = 0
    wish.profile("programs")
    us = {"full_address": {"shipping_detail": {"country_code": "US"}}}
    (fbw,) = wish.post("/orders", json={"orders": [{**us, "fulfillment_order_types": ["FULFILLED_BY_WISH"]}]})["ids"]
    (own,) = wish.post("/orders", json={"orders": [{**us, "fulfillment_order_types": ["FULFILLED_BY_STORE"]}]})["ids"]
    with wish.client() as client:
        client.ship_order(own, tracking_number="1234567890", shipping_provider="DHL", origin_country="CN")
    wish.advance(days=1, hours=1)  # Wish ships its FBW order
    with wish.client() as client:
        client.test_token()
        pull(client, engine)
        poll_once(client, engine, STORE, now=client.server_now())
        wish.advance(days=8)  # past the first-scan deadline (168 h) of both parcels
        client.test_token()
        pull(client, engine)
        poll_once(client, engine, STORE, now=client.server_now())
    shipped = {r["order_id"]: r["state"] for r in table(engine, orders)}
    assert shipped == {fbw: "SHIPPED", own: "SHIPPED"}
    tracked = {r["order_id"] for r in table(engine, shipment_tracking)}
    assert tracked == {fbw, own}
    open_exceptions = {r["order_id"] for r in table(engine, tracking_exceptions) if r["resolved_at"] is None}
    assert open_exceptions == {own}
