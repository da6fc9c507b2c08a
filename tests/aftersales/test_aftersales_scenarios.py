"""Clock-driven sandbox scenarios of after-sales: completion, refunds, tickets (and templated
replies), penalties, follow-ups and the daily summary; reruns change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from track_helpers import (
    STORE,
    admin,
    advance,
    create_orders,
    fates,
    follow_up,
    poll,
    pull,
    rows,
    ship,
    snapshot,
    tracking_number,
    wish_now,
)

from wishflow.aftersales import ReplyPolicy, awaiting_merchant, daily_summary, render_markdown
from wishflow.api.client import WishClient
from wishflow.warehouse.aftersales_schema import (
    follow_ups,
    order_completions,
    penalties,
    refunds,
    ticket_replies,
    tickets,
)
from wishflow.warehouse.tracking_schema import shipment_tracking

AFTERSALES_TABLES = [refunds, tickets, ticket_replies, penalties, follow_ups, order_completions]


def deliver(clock: Any, client: WishClient, engine: sa.Engine, number: int) -> str:
    """An order shipped through the API and followed day by day until confirmed delivered."""
    (order_id,) = create_orders(clock)
    ship(client, order_id, tracking_number(number))
    advance(clock, minutes=5)
    for _ in range(30):
        poll(client, engine)
        (shipment,) = rows(engine, shipment_tracking, order_id=order_id)
        if shipment["status"] == "DELIVERED":
            return order_id
        advance(clock, days=1)
    raise AssertionError("never delivered")


def test_a_normal_delivery_reaches_completed(clock: Any, client: WishClient, engine: sa.Engine) -> None:
    with fates(clock):
        order_id = deliver(clock, client, engine, 1)
        (shipment,) = rows(engine, shipment_tracking, order_id=order_id)
        follow_up(client, engine, quiet_period=timedelta(days=3))
        assert rows(engine, order_completions) == []  # delivered less than 3 days ago
        advance(clock, days=3, hours=1)
        result = follow_up(client, engine, quiet_period=timedelta(days=3))
        (completion,) = rows(engine, order_completions, order_id=order_id)
        assert completion["completed_at"] == shipment["delivered_at"] + timedelta(days=3)
        assert completion["revoked_at"] is None
        assert result["completions"].completed_order_ids == [order_id]
        before = snapshot(engine, AFTERSALES_TABLES)
        follow_up(client, engine, quiet_period=timedelta(days=3))
    assert snapshot(engine, AFTERSALES_TABLES) == before  # a rerun changes nothing
    summary = daily_summary(engine, STORE, completion["completed_at"].date())
    assert summary.today["completed"] == 1
    markdown = render_markdown(summary, follow_ups=[])
    assert "| Completed | 1 |" in markdown
    assert "Nothing to act on." in markdown


def test_a_refund_after_delivery_is_recorded_and_the_order_is_not_completed(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock):
        order_id = deliver(clock, client, engine, 2)
        client.refund_order(order_id, "ITEM_IS_DAMAGED", "Arrived broken")
        advance(clock, minutes=5)
        follow_up(client, engine, quiet_period=timedelta(days=3))
        advance(clock, days=4)
        follow_up(client, engine, quiet_period=timedelta(days=3))
    (refund,) = rows(engine, refunds, order_id=order_id)
    assert (refund["refund_reason"], refund["refund_source"], refund["after_delivery"]) == (
        "ITEM_IS_DAMAGED",
        "MERCHANT",
        True,
    )
    assert refund["refund_amount"] > 0
    assert refund["merchant_responsible_amount"] == refund["refund_amount"]
    assert refund["refund_reason_note"] == "Arrived broken"
    assert refund["currency_code"] == "USD"
    assert rows(engine, order_completions) == []
    summary = daily_summary(engine, STORE, refund["refunded_at"].date())
    assert summary.today["refunds"] == 1
    assert summary.today["refund_amount"] == {"USD": refund["refund_amount"].quantize(Decimal("0.01"))}


def test_a_ticket_awaiting_the_merchant_is_listed_replied_to_and_synced(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(3))
        advance(clock, minutes=5)
        ticket_id = admin(
            clock, "POST", "/sandbox/tickets", json={"order_id": order_id, "reason": "SHIPPING_TAKING_TOO_LONG"}
        )["id"]
        advance(clock, hours=2)
        follow_up(client, engine)
        (waiting,) = awaiting_merchant(engine, STORE, now=wish_now(client))
        assert waiting["ticket_id"] == ticket_id
        assert 1.9 <= waiting["waited_hours"] <= 2.1
        (open_follow_up,) = rows(engine, follow_ups, kind="TICKET_AWAITING_MERCHANT")
        assert open_follow_up["entity_id"] == ticket_id
        assert open_follow_up["resolved_at"] is None

        # templated replies are off by default; dry run plans without sending
        assert follow_up(client, engine)["replies"] == []
        dry = follow_up(client, engine, replies=ReplyPolicy(enabled=True, dry_run=True))["replies"]
        assert [(p.ticket_id, p.outcome) for p in dry] == [(ticket_id, "planned")]
        assert tracking_number(3) in dry[0].message
        assert "DHL" in dry[0].message
        assert rows(engine, tickets, ticket_id=ticket_id)[0]["state"] == "AWAITING_MERCHANT"

        sent = follow_up(client, engine, replies=ReplyPolicy(enabled=True, dry_run=False))["replies"]
        assert [(p.ticket_id, p.outcome) for p in sent] == [(ticket_id, "sent")]
        (ticket,) = rows(engine, tickets, ticket_id=ticket_id)
        assert ticket["state"] == "AWAITING_USER"
        assert ticket["last_reply_sender"] == "MERCHANT"
        replies = sorted(rows(engine, ticket_replies, ticket_id=ticket_id), key=lambda r: r["reply_index"])
        assert [(r["sender"], r["sent_by_wishflow"]) for r in replies] == [("USER", False), ("MERCHANT", True)]
        (resolved,) = rows(engine, follow_ups, kind="TICKET_AWAITING_MERCHANT")
        assert resolved["resolution"] == "ticket awaiting_user"
        # a rerun does not reply twice
        again = follow_up(client, engine, replies=ReplyPolicy(enabled=True, dry_run=False))["replies"]
        assert again == []

        advance(clock, days=1, hours=1)  # the customer thanks and closes
        follow_up(client, engine)
    (ticket,) = rows(engine, tickets, ticket_id=ticket_id)
    assert (ticket["state"], ticket["closed_by"]) == ("CLOSED", "USER")
    assert ticket["reply_count"] == 3


def test_penalties_land_with_the_auto_refund_of_an_order_never_shipped(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock):
        (order_id,) = create_orders(clock)
        pull(client, engine, [order_id])
        advance(clock, days=5, hours=1)  # not marked shipped in 5 days: refunded and fined
        follow_up(client, engine)
        before = snapshot(engine, AFTERSALES_TABLES)
        follow_up(client, engine)
    assert snapshot(engine, AFTERSALES_TABLES) == before
    (penalty,) = rows(engine, penalties)
    assert (penalty["order_id"], penalty["penalty_reason"], penalty["reversed"]) == (
        order_id,
        "AUTO_REFUND_LATE_FULFILLMENT",
        False,
    )
    assert penalty["penalty_amount"] > 0
    assert penalty["currency_code"] == "USD"
    (refund,) = rows(engine, refunds, order_id=order_id)
    assert (refund["refund_source"], refund["refund_reason"], refund["after_delivery"]) == (
        "WISH",
        "UNABLE_TO_SHIP",
        False,
    )
    (review,) = rows(engine, follow_ups, kind="PENALTY_REVIEW")
    assert review["entity_id"] == penalty["penalty_id"]
    assert review["resolved_at"] is None
    summary = daily_summary(engine, STORE, penalty["created_at"].date())
    assert summary.today["penalties"] == 1
    assert "PENALTY_REVIEW" in render_markdown(summary, follow_ups=rows(engine, follow_ups))


def test_a_late_parcel_becomes_a_follow_up_resolved_when_it_is_scanned(
    clock: Any, client: WishClient, engine: sa.Engine
) -> None:
    with fates(clock, delayed_share=1.0):
        (order_id,) = create_orders(clock)
        ship(client, order_id, tracking_number(4))
        advance(clock, minutes=5)
        poll(client, engine)
        (shipment,) = rows(engine, shipment_tracking, order_id=order_id)
        advance(clock, seconds=(shipment["first_scan_due_at"] - wish_now(client)).total_seconds() - 20 * 3600)
        follow_up(client, engine)
        (late,) = rows(engine, follow_ups, kind="FIRST_SCAN_LATE")
        assert late["order_id"] == order_id
        assert late["due_at"] == shipment["first_scan_due_at"]
        advance(clock, days=12)  # a delayed parcel is scanned 7-12 days late at most
        follow_up(client, engine)
    (late,) = rows(engine, follow_ups, kind="FIRST_SCAN_LATE")
    assert late["resolved_at"] is not None
    assert late["resolution"] in ("scanned", "delivered")
