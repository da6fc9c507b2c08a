"""The ship flows end to end with a Prefect test harness: single and batch shipments, dry run, a
carrier Wish will not accept, modify tracking and change address.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from shipping_helpers import STORE, accepted_tracking, advance, writes

from wishflow.warehouse.shipping_schema import shipment_batches, shipments


@pytest.fixture
def flow_env(
    monkeypatch: pytest.MonkeyPatch, sandbox: Any, warehouse_url: str, tmp_path: Path, prefect_harness
) -> Path:
    monkeypatch.setenv("WISH_API_BASE_URL", sandbox.api_url)
    monkeypatch.setenv("WISHFLOW_PROFILE", "sandbox")  # a sandbox on a random port, on purpose
    monkeypatch.setenv("WISH_ACCESS_TOKEN", sandbox.access_token)
    monkeypatch.setenv("WISHFLOW_WAREHOUSE_URL", warehouse_url)
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "default: {carrier: YunExpress, service: standard, origin_country: CN}\n"
        "max_batch_size: 5\n"
        "rules:\n"
        "  - name: cdp\n"
        "    when: {confirmed_delivery: true}\n"
        "    then: {carrier: DHL, service: express}\n"
    )
    monkeypatch.setenv("WISHFLOW_SHIPPING_POLICY", str(policy))
    return policy


def test_batch_shipment_through_the_flow(flow_env, engine, sandbox, seed) -> None:
    from flows.ship_orders import ship_orders

    ids = seed(count=12)
    advance_later = ship_orders(store=STORE, follow_seconds=0.0)
    assert advance_later["plan"]["planned"] == 12
    assert advance_later["plan"]["batches"] >= 3  # max_batch_size 5 from the policy
    advance(sandbox, 5)
    result = ship_orders(store=STORE, follow_seconds=5.0)  # nothing new to plan; follows the submitted ones
    assert result["plan"]["planned"] == 0
    with engine.connect() as conn:
        states = dict(conn.execute(sa.select(shipments.c.order_id, shipments.c.state)).all())
        assert conn.execute(sa.select(sa.func.count()).select_from(shipment_batches)).scalar() >= 3
    assert set(states) == set(ids)
    assert set(states.values()) == {"confirmed"}
    assert all(len(accepted_tracking(sandbox, oid)) == 1 for oid in ids)


def test_single_shipment_with_a_given_number(flow_env, engine, sandbox, seed) -> None:
    from flows.ship_orders import ship_orders

    ids = seed(count=3, fulfillment_order_types=["FULFILLED_BY_STORE"])
    result = ship_orders(store=STORE, tracking_numbers={ids[0]: "YT1111222233334444"}, follow_seconds=0.0)
    assert result["plan"]["planned"] == 1
    assert [w["body"]["tracking_number"] for w in accepted_tracking(sandbox, ids[0])] == ["YT1111222233334444"]
    assert writes(sandbox, ids[1]) == []
    assert writes(sandbox, ids[2]) == []


def test_dry_run_sends_nothing(flow_env, engine, sandbox, seed) -> None:
    from flows.ship_orders import ship_orders

    ids = seed(count=4)
    result = ship_orders(store=STORE, dry_run=True)
    assert result["dry_run"]
    assert result["plan"]["orders"] == 4
    assert all(writes(sandbox, oid) == [] for oid in ids)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(shipments)).scalar() == 0


def test_a_carrier_wish_does_not_accept_fails_before_sending_and_the_order_stays_ready(
    flow_env, engine, sandbox, seed
) -> None:
    from flows.ship_orders import ship_orders
    from wishflow.shipping import ready_orders
    from wishflow.shipping.policy import CarrierNotAccepted

    # Yanwen is accepted for general orders, not for confirmed-delivery ones
    cdp = seed(count=1, fulfillment_order_types=["FULFILLED_BY_STORE", "CONFIRMED_DELIVERY_POLICY"])
    with pytest.raises(CarrierNotAccepted, match="Yanwen"):
        ship_orders(store=STORE, carrier="Yanwen", follow_seconds=0.0)
    assert writes(sandbox, cdp[0]) == []
    assert [o.order_id for o in ready_orders(engine, STORE)] == cdp
    from wishflow.shipping.choices import UnknownShipChoice

    # a carrier Wish accepts for no order fails first, listing the accepted ones; nothing is sent
    with pytest.raises(UnknownShipChoice, match=r"NoSuchPost.*accepted carriers: .*YunExpress"):
        ship_orders(store=STORE, carrier="NoSuchPost", follow_seconds=0.0)
    with pytest.raises(UnknownShipChoice, match=r"shoebox.*presets are: .*small_box"):
        ship_orders(store=STORE, package="shoebox", follow_seconds=0.0)
    assert writes(sandbox, cdp[0]) == []
    assert [o.order_id for o in ready_orders(engine, STORE)] == cdp


def test_ship_form_offers_no_internal_knobs_and_the_policy_holds_them(flow_env, engine, sandbox, seed) -> None:
    from blocks.shipping import resolve_shipping_policy
    from flows.ship_orders import ship_orders

    form = set(ship_orders.parameters.properties)
    assert {"carrier", "package", "order_ids", "tracking_numbers"} <= form
    assert not form & {"workers", "max_rate", "lease_seconds"}
    assert resolve_shipping_policy(None).workers == 8
    assert resolve_shipping_policy(None).lease_seconds == 600.0
    flow_env.write_text(flow_env.read_text() + "workers: 3\nmax_rate: 40\nlease_seconds: 90\n")
    block = resolve_shipping_policy(None)
    assert (block.workers, block.max_rate, block.lease_seconds) == (3, 40.0, 90.0)
    # carrier names are matched case-insensitively and sent in Wish's spelling
    ids = seed(count=2, fulfillment_order_types=["FULFILLED_BY_STORE"])
    result = ship_orders(store=STORE, carrier="yunexpress", package="medium_box", follow_seconds=0.0)
    assert result["sent"] == 2
    assert {w["body"]["shipping_provider"] for oid in ids for w in accepted_tracking(sandbox, oid)} == {"YunExpress"}


def test_modify_tracking_and_change_address(flow_env, engine, sandbox, seed) -> None:
    from flows.ship_orders import change_address, modify_tracking, ship_orders

    ids = seed(count=2, fulfillment_order_types=["FULFILLED_BY_STORE"])
    moved = change_address(
        order_id=ids[1], address={"street_address1": "1 New Street", "city": "Springfield"}, follow_seconds=0
    )
    assert moved["state"] in ("submitted", "confirmed")
    assert [w["endpoint"] for w in writes(sandbox, ids[1])] == ["address"]
    ship_orders(store=STORE, order_ids=[ids[0]], follow_seconds=0.0)
    advance(sandbox, 5)
    first = modify_tracking(
        order_id=ids[0], tracking_number="YT9999888877776666", carrier="YunExpress", follow_seconds=0
    )
    assert first["state"] in ("submitted", "confirmed")
    again = modify_tracking(
        order_id=ids[0], tracking_number="YT9999888877776666", carrier="YunExpress", follow_seconds=0
    )
    assert "not sent again" in again["detail"]
    numbers = [w["body"]["tracking_number"] for w in accepted_tracking(sandbox, ids[0])]
    assert numbers[-1] == "YT9999888877776666"
    assert numbers.count("YT9999888877776666") == 1
    assert len(numbers) == 2
