"""Unit tests of the tracking rules (wishflow/tracking/status.py): pure functions with an injected clock.

Each test fixes ``now`` and the milestones and checks the status, the exceptions and the polling
decision Wish's deadlines imply (DESIGN.md §2): 168 h / 336 h to the first scan, 30 days for
confirmed delivery, 5 business days for Wish Express.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from wishflow.tracking.status import (
    ExceptionType,
    Severity,
    ShipmentFacts,
    Status,
    TrackingPolicy,
    add_business_days,
    delivery_deadline,
    evaluate,
    first_scan_deadline,
    poll_due,
    split_segments,
)

RELEASED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
POLICY = TrackingPolicy()


def facts(**overrides: object) -> ShipmentFacts:
    """A shipped, unscanned, current parcel released at ``RELEASED``; overrides change one fact."""
    base: dict[str, object] = {
        "order_id": "o1",
        "tracking_number": "TN1",
        "shipping_provider": "YunExpress",
        "order_state": "SHIPPED",
        "is_current": True,
        "is_wish_express": False,
        "is_confirmed_delivery": False,
        "released_at": RELEASED,
        "shipped_at": RELEASED + timedelta(hours=5),
        "first_scan_at": None,
        "delivered_at": None,
        "cancelled_at": None,
        "last_event_at": RELEASED + timedelta(hours=5),
        "first_scan_due_at": first_scan_deadline(RELEASED, Decimal("20")),
        "delivery_due_at": None,
    }
    base.update(overrides)
    return ShipmentFacts(**base)  # type: ignore[arg-type]


def test_business_days_skip_the_weekend() -> None:
    friday = datetime(2026, 3, 6, 15, 30, tzinfo=UTC)
    assert add_business_days(friday, 1) == datetime(2026, 3, 9, 15, 30, tzinfo=UTC)
    assert add_business_days(friday, 5) == datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
    assert add_business_days(RELEASED, 0) == RELEASED


@pytest.mark.parametrize(
    ("value", "hours"),
    [(None, 168), (Decimal("99.99"), 168), (Decimal("100"), 336), (Decimal("250"), 336)],
)
def test_first_scan_deadline_depends_on_the_order_value(value: Decimal | None, hours: int) -> None:
    assert first_scan_deadline(RELEASED, value) == RELEASED + timedelta(hours=hours)
    assert first_scan_deadline(None, value) is None


def test_delivery_deadline_takes_the_earliest_promise() -> None:
    assert delivery_deadline(RELEASED, wish_express=False, confirmed_delivery=False) is None
    assert delivery_deadline(RELEASED, wish_express=False, confirmed_delivery=True) == RELEASED + timedelta(days=30)
    express = delivery_deadline(RELEASED, wish_express=True, confirmed_delivery=True)
    assert express == add_business_days(RELEASED, 5)
    sooner = RELEASED + timedelta(days=2)
    assert delivery_deadline(RELEASED, wish_express=True, confirmed_delivery=False, expected_delivery_time=sooner) == (
        sooner
    )


def test_segments_split_at_each_shipment_and_cancellation() -> None:
    t = [RELEASED + timedelta(hours=h) for h in range(8)]
    segments = split_segments(
        [
            ("ORDER_RELEASED", t[0]),
            ("MARK_SHIPPED", t[1]),
            ("CONFIRM_FULFILLED", t[2]),
            ("TRACKING_CANCELLED", t[3]),
            ("ORDER_RE_RELEASED", t[4]),
            ("MARK_SHIPPED", t[5]),
            ("CONFIRMED_DELIVERED", t[6]),
        ]
    )
    assert len(segments) == 2
    first, second = segments
    assert (first.shipped_at, first.first_scan_at, first.cancelled_at) == (t[1], t[2], t[3])
    assert first.events[-1] == ("ORDER_RE_RELEASED", t[4])
    # a delivery without a scan counts as the first scan too
    assert (second.shipped_at, second.first_scan_at, second.delivered_at) == (t[5], t[6], t[6])
    assert second.last_event_at == t[6]


def test_a_scan_without_a_shipment_is_ignored() -> None:
    assert split_segments([("CONFIRM_FULFILLED", RELEASED)]) == []


def test_an_unscanned_parcel_warns_before_the_first_scan_deadline_and_expires_after() -> None:
    due = RELEASED + timedelta(hours=168)
    calm = evaluate(facts(), due - POLICY.first_scan_warning - timedelta(minutes=1), POLICY)
    assert (calm.status, calm.conditions) == (Status.INFO_RECEIVED, ())

    near = evaluate(facts(), due - timedelta(hours=1), POLICY)
    assert near.status is Status.INFO_RECEIVED
    assert [(c.exception_type, c.severity) for c in near.conditions] == [
        (ExceptionType.FIRST_SCAN_LATE, Severity.AT_RISK)
    ]
    assert "due by" in near.conditions[0].details

    late = evaluate(facts(), due, POLICY)
    assert late.status is Status.EXPIRED
    assert [(c.exception_type, c.severity) for c in late.conditions] == [
        (ExceptionType.FIRST_SCAN_LATE, Severity.MISSED)
    ]
    assert "has passed" in late.conditions[0].details


def test_a_scanned_parcel_with_no_movement_is_an_exception() -> None:
    scanned = RELEASED + timedelta(days=1)
    parcel = facts(first_scan_at=scanned, last_event_at=scanned)
    moving = evaluate(parcel, scanned + POLICY.stall_after - timedelta(seconds=1), POLICY)
    assert (moving.status, moving.conditions) == (Status.IN_TRANSIT, ())
    stalled = evaluate(parcel, scanned + POLICY.stall_after, POLICY)
    assert stalled.status is Status.EXCEPTION
    assert [c.exception_type for c in stalled.conditions] == [ExceptionType.NO_MOVEMENT]


@pytest.mark.parametrize(
    ("express", "kind"),
    [(True, ExceptionType.WISH_EXPRESS_LATE), (False, ExceptionType.CONFIRMED_DELIVERY_LATE)],
)
def test_a_delivery_promise_goes_from_at_risk_to_missed(express: bool, kind: ExceptionType) -> None:
    due = delivery_deadline(RELEASED, wish_express=express, confirmed_delivery=not express)
    assert due is not None
    scanned = RELEASED + timedelta(hours=10)
    parcel = facts(
        is_wish_express=express,
        is_confirmed_delivery=not express,
        first_scan_at=scanned,
        last_event_at=due - timedelta(hours=2),
        delivery_due_at=due,
    )
    near = evaluate(parcel, due - timedelta(hours=1), POLICY)
    assert near.status is Status.IN_TRANSIT
    assert [(c.exception_type, c.severity) for c in near.conditions] == [(kind, Severity.AT_RISK)]
    missed = evaluate(parcel, due + timedelta(hours=1), POLICY)
    assert missed.status is Status.EXCEPTION
    assert [(c.exception_type, c.severity) for c in missed.conditions] == [(kind, Severity.MISSED)]
    assert "not delivered by" in missed.conditions[0].details


def test_delivered_and_replaced_parcels_are_final() -> None:
    delivered = evaluate(facts(delivered_at=RELEASED + timedelta(days=3)), RELEASED + timedelta(days=90), POLICY)
    assert (delivered.status, delivered.conditions, delivered.active) == (Status.DELIVERED, (), False)
    replaced = evaluate(facts(replaced=True), RELEASED + timedelta(days=90), POLICY)
    assert (replaced.status, replaced.active) == (Status.CANCELLED, False)


def test_cancelled_tracking_asks_to_ship_again_only_while_the_order_waits() -> None:
    cancelled_at = RELEASED + timedelta(days=2)
    waiting = evaluate(facts(cancelled_at=cancelled_at, order_state="APPROVED"), cancelled_at, POLICY)
    assert waiting.status is Status.CANCELLED
    assert [(c.exception_type, c.severity) for c in waiting.conditions] == [
        (ExceptionType.TRACKING_CANCELLED, Severity.ACTION)
    ]
    reshipped = evaluate(facts(cancelled_at=cancelled_at, order_state="SHIPPED", reshipped=True), cancelled_at, POLICY)
    assert reshipped.conditions == ()


def test_an_order_no_longer_shipped_is_not_tracked() -> None:
    refunded = evaluate(facts(order_state="REFUNDED"), RELEASED + timedelta(days=30), POLICY)
    assert refunded.conditions == ()
    assert "REFUNDED" in refunded.reason
    assert not poll_due(facts(order_state="REFUNDED"), refunded, None, RELEASED, POLICY)


def test_polling_is_more_frequent_near_a_deadline() -> None:
    parcel = facts()
    quiet_now = RELEASED + timedelta(hours=24)
    quiet = evaluate(parcel, quiet_now, POLICY)
    assert poll_due(parcel, quiet, None, quiet_now, POLICY)  # never polled
    assert not poll_due(parcel, quiet, quiet_now - POLICY.urgent_poll_interval, quiet_now, POLICY)
    assert poll_due(parcel, quiet, quiet_now - POLICY.poll_interval, quiet_now, POLICY)

    urgent_now = RELEASED + timedelta(hours=168) - timedelta(hours=1)
    urgent = evaluate(parcel, urgent_now, POLICY)
    assert poll_due(parcel, urgent, urgent_now - POLICY.urgent_poll_interval, urgent_now, POLICY)
    assert not poll_due(parcel, urgent, urgent_now - timedelta(minutes=5), urgent_now, POLICY)


def test_a_parcel_that_is_not_current_is_never_polled() -> None:
    parcel = facts(is_current=False)
    assert not poll_due(parcel, evaluate(parcel, RELEASED, POLICY), None, RELEASED, POLICY)
