"""Normalised shipment status and exception detection, derived from Wish milestones (pure functions).

Wish reports a parcel only through the order's ``fulfillment_records`` milestones: MARK_SHIPPED,
CONFIRM_FULFILLED (the first carrier scan), CONFIRMED_DELIVERED, TRACKING_CANCELLED and
ORDER_RE_RELEASED. Each MARK_SHIPPED starts a shipment; a TRACKING_CANCELLED ends it. From those
facts and the policy deadlines of DESIGN.md §2 this module says, for a given ``now``:

* the normalised status: INFO_RECEIVED, IN_TRANSIT, DELIVERED, EXCEPTION, EXPIRED or CANCELLED;
* the open exceptions: first scan late (or about to be), no movement, tracking cancelled (reship),
  confirmed-delivery or Wish Express delivery late (or about to be).

Nothing here reads the clock or the database: ``now`` and the facts are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """A shipment's tracking status, as the warehouse stores it."""

    INFO_RECEIVED = "INFO_RECEIVED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    EXCEPTION = "EXCEPTION"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"


class ExceptionType(StrEnum):
    """The kinds of tracking trouble that open an exception for the merchant."""

    FIRST_SCAN_LATE = "FIRST_SCAN_LATE"
    NO_MOVEMENT = "NO_MOVEMENT"
    TRACKING_CANCELLED = "TRACKING_CANCELLED"
    CONFIRMED_DELIVERY_LATE = "CONFIRMED_DELIVERY_LATE"
    WISH_EXPRESS_LATE = "WISH_EXPRESS_LATE"


class Severity(StrEnum):
    """How urgent an exception is; it only escalates, so a digest reports each step once."""

    AT_RISK = "at_risk"  # a deadline is near
    MISSED = "missed"  # a deadline has passed
    ACTION = "action"  # the merchant must act (e.g. ship again)


#: Milestones that belong to a parcel, and the status each implies.
EVENT_STATUS: dict[str, Status] = {
    "MARK_SHIPPED": Status.INFO_RECEIVED,
    "CONFIRM_FULFILLED": Status.IN_TRANSIT,
    "CONFIRMED_DELIVERED": Status.DELIVERED,
    "TRACKING_CANCELLED": Status.CANCELLED,
    "ORDER_RE_RELEASED": Status.CANCELLED,
}

#: Statuses after which a parcel is no longer polled.
FINAL_STATUSES = frozenset({Status.DELIVERED, Status.CANCELLED})

FIRST_SCAN_HOURS_LOW_VALUE = 168
FIRST_SCAN_HOURS_HIGH_VALUE = 336
HIGH_VALUE_THRESHOLD = Decimal("100")
CONFIRMED_DELIVERY_DAYS = 30
WISH_EXPRESS_BUSINESS_DAYS = 5


@dataclass(frozen=True)
class TrackingPolicy:
    """Thresholds of exception detection and polling (all configurable from the flow)."""

    #: warn this long before the first-scan deadline (168 h / 336 h after release)
    first_scan_warning: timedelta = timedelta(hours=48)
    #: warn this long before a confirmed-delivery or Wish Express delivery deadline
    delivery_warning: timedelta = timedelta(hours=48)
    #: a scanned parcel with no new milestone for this long is stalled (status EXCEPTION)
    stall_after: timedelta = timedelta(days=14)
    #: read a quiet parcel from Wish at most this often
    poll_interval: timedelta = timedelta(hours=12)
    #: ... or this often when it has an open exception or a deadline within the warning window
    urgent_poll_interval: timedelta = timedelta(hours=3)


def add_business_days(start: datetime, days: int) -> datetime:
    """``start`` plus ``days`` working days (Monday to Friday), keeping the time of day."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def first_scan_deadline(released_at: datetime | None, order_value: Decimal | None) -> datetime | None:
    """First carrier scan due 168 h after release (order value under $100) or 336 h."""
    if released_at is None:
        return None
    high = order_value is not None and order_value >= HIGH_VALUE_THRESHOLD
    hours = FIRST_SCAN_HOURS_HIGH_VALUE if high else FIRST_SCAN_HOURS_LOW_VALUE
    return released_at + timedelta(hours=hours)


def delivery_deadline(
    released_at: datetime | None,
    *,
    wish_express: bool,
    confirmed_delivery: bool,
    expected_delivery_time: datetime | None = None,
) -> datetime | None:
    """Delivery due for Wish Express (5 business days) or Confirmed Delivery (30 days), else None.

    When Wish states an ``expected_delivery_time`` the earlier of the two is used (flag sooner).
    """
    if released_at is None or not (wish_express or confirmed_delivery):
        return None
    candidates = []
    if wish_express:
        candidates.append(add_business_days(released_at, WISH_EXPRESS_BUSINESS_DAYS))
    if confirmed_delivery:
        candidates.append(released_at + timedelta(days=CONFIRMED_DELIVERY_DAYS))
    if expected_delivery_time is not None:
        candidates.append(expected_delivery_time)
    return min(candidates)


@dataclass(frozen=True)
class Segment:
    """One shipment's milestones, cut from an order's fulfillment records."""

    shipped_at: datetime
    first_scan_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None
    events: tuple[tuple[str, datetime], ...] = ()

    @property
    def last_event_at(self) -> datetime:
        """When the carrier last reported anything (the ship time if it never did)."""
        return self.events[-1][1] if self.events else self.shipped_at


def split_segments(milestones: list[tuple[str, datetime]]) -> list[Segment]:
    """Cut sorted ``(event_type, event_time)`` milestones into shipments, oldest first.

    A MARK_SHIPPED opens a shipment; scans and delivery belong to the open one; a
    TRACKING_CANCELLED (and the ORDER_RE_RELEASED after it) closes it.
    """
    segments: list[Segment] = []
    current: dict[str, Any] | None = None

    def close() -> None:
        nonlocal current
        if current is not None:
            segments.append(
                Segment(
                    shipped_at=current["shipped_at"],
                    first_scan_at=current.get("first_scan_at"),
                    delivered_at=current.get("delivered_at"),
                    cancelled_at=current.get("cancelled_at"),
                    events=tuple(current["events"]),
                )
            )
            current = None

    for event_type, event_time in milestones:
        if event_type == "MARK_SHIPPED":
            close()
            current = {"shipped_at": event_time, "events": [(event_type, event_time)]}
            continue
        if event_type not in EVENT_STATUS:
            continue
        if current is None:
            if event_type == "ORDER_RE_RELEASED" and segments:
                last = segments[-1]
                segments[-1] = replace(last, events=(*last.events, (event_type, event_time)))
            continue  # a scan without a shipment: nothing to attribute it to
        current["events"].append((event_type, event_time))
        if event_type == "CONFIRM_FULFILLED":
            current.setdefault("first_scan_at", event_time)
        elif event_type == "CONFIRMED_DELIVERED":
            current.setdefault("delivered_at", event_time)
            current.setdefault("first_scan_at", event_time)
        elif event_type == "TRACKING_CANCELLED":
            current["cancelled_at"] = event_time
        elif event_type == "ORDER_RE_RELEASED":
            close()
    close()
    return segments


@dataclass(frozen=True)
class ShipmentFacts:
    """What is known about one shipment, whatever the clock says."""

    order_id: str
    tracking_number: str
    shipping_provider: str | None
    order_state: str
    is_current: bool
    is_wish_express: bool
    is_confirmed_delivery: bool
    released_at: datetime | None
    shipped_at: datetime | None
    first_scan_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    last_event_at: datetime | None
    first_scan_due_at: datetime | None
    delivery_due_at: datetime | None
    reshipped: bool = False  # a later shipment of the same order exists
    replaced: bool = False  # the merchant changed this parcel's tracking number


@dataclass(frozen=True)
class Condition:
    """An exception that holds now."""

    exception_type: ExceptionType
    severity: Severity
    deadline_at: datetime | None
    details: str


@dataclass(frozen=True)
class Evaluation:
    """A shipment's status as evaluated now, why, and the exception conditions that hold."""

    status: Status
    reason: str
    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    @property
    def active(self) -> bool:
        """Whether tracking still has to poll it (the status is not final)."""
        return self.status not in FINAL_STATUSES


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if abs(hours) >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours:.0f} h"


def _at(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "(unknown)"


def evaluate(facts: ShipmentFacts, now: datetime, policy: TrackingPolicy) -> Evaluation:
    """The status of a shipment at ``now`` and the exceptions that hold."""
    if facts.cancelled_at is not None:
        conditions: tuple[Condition, ...] = ()
        if not facts.reshipped and facts.order_state == "APPROVED":
            conditions = (
                Condition(
                    ExceptionType.TRACKING_CANCELLED,
                    Severity.ACTION,
                    None,
                    f"Tracking {facts.tracking_number or '(unknown)'} was cancelled and the order re-released: "
                    "ship it again with a new tracking number.",
                ),
            )
        return Evaluation(Status.CANCELLED, "tracking cancelled; number void", conditions)
    if facts.replaced:
        return Evaluation(Status.CANCELLED, "replaced by a newer tracking number")
    if facts.delivered_at is not None:
        return Evaluation(Status.DELIVERED, "confirmed delivered")
    if facts.order_state != "SHIPPED":
        status = Status.IN_TRANSIT if facts.first_scan_at else Status.INFO_RECEIVED
        return Evaluation(status, f"order is {facts.order_state}; no longer tracked")

    conditions_list: list[Condition] = []
    status = Status.IN_TRANSIT if facts.first_scan_at else Status.INFO_RECEIVED
    reason = "scanned by the carrier" if facts.first_scan_at else "shipped, waiting for the first carrier scan"

    if facts.first_scan_at is None and facts.first_scan_due_at is not None:
        left = facts.first_scan_due_at - now
        if left <= timedelta(0):
            status, reason = (
                Status.EXPIRED,
                f"no carrier scan by the first-scan deadline {_at(facts.first_scan_due_at)}",
            )
            conditions_list.append(
                Condition(
                    ExceptionType.FIRST_SCAN_LATE,
                    Severity.MISSED,
                    facts.first_scan_due_at,
                    f"No first carrier scan; the deadline {_at(facts.first_scan_due_at)} has passed.",
                )
            )
        elif left <= policy.first_scan_warning:
            conditions_list.append(
                Condition(
                    ExceptionType.FIRST_SCAN_LATE,
                    Severity.AT_RISK,
                    facts.first_scan_due_at,
                    f"No first carrier scan yet; due by {_at(facts.first_scan_due_at)}.",
                )
            )

    if facts.first_scan_at is not None and facts.last_event_at is not None:
        quiet = now - facts.last_event_at
        if quiet >= policy.stall_after:
            status, reason = Status.EXCEPTION, f"no movement since {_at(facts.last_event_at)}"
            conditions_list.append(
                Condition(
                    ExceptionType.NO_MOVEMENT,
                    Severity.AT_RISK,
                    None,
                    f"No new milestone since {_at(facts.last_event_at)} (over {_hours(policy.stall_after)}).",
                )
            )

    if facts.delivery_due_at is not None:
        kind = ExceptionType.WISH_EXPRESS_LATE if facts.is_wish_express else ExceptionType.CONFIRMED_DELIVERY_LATE
        program = "Wish Express" if facts.is_wish_express else "Confirmed delivery"
        left = facts.delivery_due_at - now
        if left <= timedelta(0):
            if status is not Status.EXPIRED:
                status, reason = Status.EXCEPTION, f"{program} delivery deadline missed"
            conditions_list.append(
                Condition(
                    kind,
                    Severity.MISSED,
                    facts.delivery_due_at,
                    f"{program}: not delivered by {_at(facts.delivery_due_at)}.",
                )
            )
        elif left <= policy.delivery_warning:
            conditions_list.append(
                Condition(
                    kind,
                    Severity.AT_RISK,
                    facts.delivery_due_at,
                    f"{program}: not delivered yet; due by {_at(facts.delivery_due_at)}.",
                )
            )
    return Evaluation(status, reason, tuple(conditions_list))


def poll_due(
    facts: ShipmentFacts,
    evaluation: Evaluation,
    last_polled_at: datetime | None,
    now: datetime,
    policy: TrackingPolicy,
) -> bool:
    """Whether a parcel should be read from Wish now (never for a final or untracked one)."""
    if not evaluation.active or facts.order_state != "SHIPPED" or not facts.is_current:
        return False
    if last_polled_at is None:
        return True
    urgent = bool(evaluation.conditions) or any(
        due is not None and due - now <= max(policy.first_scan_warning, policy.delivery_warning)
        for due in (None if facts.first_scan_at else facts.first_scan_due_at, facts.delivery_due_at)
    )
    interval = policy.urgent_poll_interval if urgent else policy.poll_interval
    return now - last_polled_at >= interval
