"""Clock-driven sandbox scenarios of tracking: the normal life of a parcel, a parcel never scanned,
a cancelled tracking number, delivery deadlines, polling intervals, and reruns that change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from track_helpers import (
    STORE,
    advance,
    advance_until_cancelled,
    create_orders,
    fates,
    poll,
    rows,
    ship,
    snapshot,
    tracking_number,
    wish_now,
)

from wishflow.api.client import WishClient
from wishflow.tracking import due_for_poll
from wishflow.warehouse.schema import orders
from wishflow.warehouse.tracking_schema import shipment_tracking, tracking_events, tracking_exceptions

TRACKING_TABLES = [shipment_tracking, tracking_events, tracking_exceptions]


def only(engine: sa.Engine, table: sa.Table, **where: Any) -> dict[str, Any]:
    found = rows(engine, table, **where)
    assert len(found) == 1, found
    return found[0]


def test_a_parcel_goes_from_info_received_to_delivered(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(1))
        advance(clock, minutes=5)
        poll(client, engine)
        first = only(engine, shipment_tracking, order_id=order_id)
        assert (first["status"], first["tracking_number"], first["shipping_provider"]) == (
            "INFO_RECEIVED",
            tracking_number(1),
            "DHL",
        )
        assert first["is_current"]
        assert first["last_polled_at"] is not None
        advance(clock, days=3)
        poll(client, engine)
        assert only(engine, shipment_tracking, order_id=order_id)["status"] == "IN_TRANSIT"
        advance(clock, days=14)
        result = poll(client, engine)
    shipment = only(engine, shipment_tracking, order_id=order_id)
    assert shipment["status"] == "DELIVERED"
    assert shipment["shipped_at"] < shipment["first_scan_at"] <= shipment["delivered_at"]
    events = [
        (e["event_type"], e["status"]) for e in sorted(rows(engine, tracking_events), key=lambda e: e["event_time"])
    ]
    assert events == [
        ("MARK_SHIPPED", "INFO_RECEIVED"),
        ("CONFIRM_FULFILLED", "IN_TRANSIT"),
        ("CONFIRMED_DELIVERED", "DELIVERED"),
    ]
    assert rows(engine, tracking_exceptions) == []
    assert result.update.statuses == {"DELIVERED": 1}
    # a delivered parcel is never polled again
    assert due_for_poll(engine, STORE, now=wish_now(client) + timedelta(days=30)) == []


def test_a_parcel_never_scanned_is_flagged_before_its_deadline(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock, never_scanned_share=1.0):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(2))
        advance(clock, minutes=5)
        poll(client, engine)
        shipment = only(engine, shipment_tracking, order_id=order_id)
        released = shipment["released_at"]
        due = shipment["first_scan_due_at"]
        with engine.connect() as conn:
            total = conn.execute(sa.select(orders.c.payment_total).where(orders.c.order_id == order_id)).scalar_one()
        assert due - released == timedelta(hours=168 if total < 100 else 336)
        assert rows(engine, tracking_exceptions) == []
        # 40 hours before the deadline: at risk, still INFO_RECEIVED
        advance(clock, seconds=(due - wish_now(client)).total_seconds() - 40 * 3600)
        result = poll(client, engine)
        exception = only(engine, tracking_exceptions, order_id=order_id)
        assert (exception["exception_type"], exception["severity"]) == ("FIRST_SCAN_LATE", "at_risk")
        assert exception["deadline_at"] == due
        assert exception["resolved_at"] is None
        assert only(engine, shipment_tracking, order_id=order_id)["status"] == "INFO_RECEIVED"
        assert [c.change for c in result.update.changes] == ["opened"]
        # past the deadline: missed, the shipment expired
        advance(clock, hours=41)
        result = poll(client, engine)
    exception = only(engine, tracking_exceptions, order_id=order_id)
    assert (exception["severity"], exception["escalated_at"] is not None) == ("missed", True)
    assert only(engine, shipment_tracking, order_id=order_id)["status"] == "EXPIRED"
    assert [c.change for c in result.update.changes] == ["escalated"]


def test_a_cancelled_tracking_number_sends_the_order_back_to_be_shipped(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock, cancelled_share=1.0):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(3))
        advance(clock, minutes=5)
        poll(client, engine)
        advance_until_cancelled(clock, client, order_id)  # Wish re-releases the order
        result = poll(client, engine)
    old = only(engine, shipment_tracking, order_id=order_id)
    assert (old["status"], old["tracking_number"], old["is_current"]) == ("CANCELLED", tracking_number(3), False)
    assert old["voided_at"] is not None
    assert old["cancelled_at"] is not None
    assert result.update.voided == [(order_id, tracking_number(3))]
    order = only(engine, orders, order_id=order_id)
    assert order["state"] == "APPROVED"
    assert order["tracking_cancelled_at"] is not None  # back in the ship queue
    exception = only(engine, tracking_exceptions, order_id=order_id)
    assert (exception["exception_type"], exception["severity"]) == ("TRACKING_CANCELLED", "action")
    kinds = {e["event_type"] for e in rows(engine, tracking_events, order_id=order_id)}
    assert {"MARK_SHIPPED", "TRACKING_CANCELLED", "ORDER_RE_RELEASED"} <= kinds

    with fates(clock):
        ship(client, order_id, tracking_number(4))  # shipped again with a new number
        advance(clock, minutes=5)
        result = poll(client, engine)
    shipments = {r["tracking_number"]: r for r in rows(engine, shipment_tracking, order_id=order_id)}
    assert shipments[tracking_number(3)]["status"] == "CANCELLED"
    assert (shipments[tracking_number(4)]["status"], shipments[tracking_number(4)]["is_current"]) == (
        "INFO_RECEIVED",
        True,
    )
    exception = only(engine, tracking_exceptions, order_id=order_id)
    assert (exception["resolved_at"] is not None, exception["resolution"]) == (True, "reshipped")
    # the new shipment's first-scan deadline starts at the re-release
    assert shipments[tracking_number(4)]["released_at"] > shipments[tracking_number(3)]["released_at"]


def test_wish_express_and_confirmed_delivery_deadlines_at_risk(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock, delayed_share=1.0):
        express, confirmed = (
            create_orders(clock, types=["WISH_EXPRESS", "FULFILLED_BY_STORE"])[0],
            create_orders(clock, types=["FULFILLED_BY_STORE", "CONFIRMED_DELIVERY_POLICY"])[0],
        )
        ship(client, express, tracking_number(5))
        ship(client, confirmed, tracking_number(6))
        advance(clock, minutes=5)
        poll(client, engine)
        due = {r["order_id"]: r["delivery_due_at"] for r in rows(engine, shipment_tracking)}
        assert due[express] is not None
        assert due[confirmed] is not None
        advance(clock, seconds=(due[express] - wish_now(client)).total_seconds() - 24 * 3600)
        poll(client, engine, stall_after=timedelta(days=60))
    exceptions = {(r["order_id"], r["exception_type"]): r for r in rows(engine, tracking_exceptions)}
    assert exceptions[(express, "WISH_EXPRESS_LATE")]["severity"] == "at_risk"
    assert (confirmed, "CONFIRMED_DELIVERY_LATE") not in exceptions  # due much later


def test_quiet_parcels_are_polled_by_id_once_per_interval(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock, never_scanned_share=1.0):
        ids = create_orders(clock, 3)
        for i, order_id in enumerate(ids):
            ship(client, order_id, tracking_number(10 + i))
        advance(clock, minutes=5)
        first = poll(client, engine)
        assert sorted(first.changed_order_ids) == sorted(ids)
        assert first.polled_order_ids == []
        advance(clock, hours=1)
        assert poll(client, engine).polled_order_ids == []  # polled recently: skipped
        advance(clock, hours=12)
        again = poll(client, engine)
    assert sorted(again.polled_order_ids) == sorted(ids)  # quiet for 13 h: read by id
    assert {r["poll_count"] for r in rows(engine, shipment_tracking)} == {2}


def test_a_rerun_changes_nothing(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock, never_scanned_share=0.5, cancelled_share=0.3):
        ids = create_orders(clock, 12)
        for i, order_id in enumerate(ids):
            ship(client, order_id, tracking_number(100 + i))
        advance(clock, minutes=5)
        poll(client, engine)
        advance(clock, days=6, hours=5)
        poll(client, engine)
        before = snapshot(engine, TRACKING_TABLES)
        assert before["tracking_exceptions"]  # something to keep unchanged
        rerun = poll(client, engine)
    assert snapshot(engine, TRACKING_TABLES) == before
    assert rerun.update.shipments_written == 0
    assert rerun.update.changes == []
    assert rerun.update.events_new == 0
