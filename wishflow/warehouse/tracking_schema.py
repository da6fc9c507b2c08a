"""Tracking tables: parcel history, current normalised status per shipment, and tracking exceptions.

A *shipment* is one tracking number on one order. An order shipped, cancelled by the carrier and
shipped again has two shipments: the old number (``CANCELLED``, ``voided_at`` set) and the new one.
Wish reports parcel progress only as milestones in ``fulfillment_records``, so the history here is
those milestones attributed to the tracking number current when they were first seen.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from wishflow.warehouse.metadata import metadata
from wishflow.warehouse.types import UTCDateTime


def _loaded_at() -> Column[object]:
    return Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC).")


tracking_events = Table(
    "tracking_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column(
        "tracking_number",
        String(128),
        nullable=False,
        comment="Tracking number current when the event was first seen ('' when the order had none).",
    ),
    Column("shipping_provider", String(128), comment="Carrier of that tracking number."),
    Column(
        "event_type",
        String(64),
        nullable=False,
        comment="Wish milestone: MARK_SHIPPED, CONFIRM_FULFILLED (first scan), CONFIRMED_DELIVERED, "
        "TRACKING_CANCELLED or ORDER_RE_RELEASED.",
    ),
    Column("event_time", UTCDateTime(), nullable=False, comment="When it happened at Wish (UTC)."),
    Column(
        "status",
        String(32),
        nullable=False,
        comment="Normalised shipment status the event implies: INFO_RECEIVED, IN_TRANSIT, DELIVERED, CANCELLED.",
    ),
    Column("source_updated_at", UTCDateTime(), nullable=False, comment="The order's updated_at it was read from."),
    _loaded_at(),
    UniqueConstraint("store", "order_id", "event_type", "event_time"),
    Index(None, "store", "tracking_number"),
    comment="Append-only, deduplicated parcel history: each milestone once, with its tracking number.",
)

shipment_tracking = Table(
    "shipment_tracking",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store the row belongs to."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column("tracking_number", String(128), primary_key=True, comment="The parcel's tracking number."),
    Column("shipping_provider", String(128), comment="Carrier name as Wish knows it."),
    Column(
        "status",
        String(32),
        nullable=False,
        comment="INFO_RECEIVED (shipped, no carrier scan yet), IN_TRANSIT (scanned), DELIVERED, "
        "EXCEPTION (stalled or a delivery deadline missed), EXPIRED (never scanned by its first-scan "
        "deadline) or CANCELLED (tracking cancelled, number void).",
    ),
    Column("status_reason", Text, comment="Why the status is what it is, in words."),
    Column("is_current", Boolean, nullable=False, comment="This is the order's current tracking number."),
    Column("order_state", String(32), nullable=False, comment="The order's state at the last refresh."),
    Column("is_wish_express", Boolean, nullable=False, comment="Wish Express order (5 business days)."),
    Column("is_confirmed_delivery", Boolean, nullable=False, comment="Confirmed Delivery Policy order."),
    Column("released_at", UTCDateTime(), comment="When Wish released the order (deadlines start here)."),
    Column("shipped_at", UTCDateTime(), comment="MARK_SHIPPED time of this shipment."),
    Column("first_scan_at", UTCDateTime(), comment="First carrier scan (CONFIRM_FULFILLED)."),
    Column("delivered_at", UTCDateTime(), comment="CONFIRMED_DELIVERED time."),
    Column("cancelled_at", UTCDateTime(), comment="TRACKING_CANCELLED time for this number."),
    Column("voided_at", UTCDateTime(), comment="When Wishflow marked this number void (back to the ship queue)."),
    Column("last_event_at", UTCDateTime(), comment="Latest milestone of this shipment (last movement)."),
    Column("first_scan_due_at", UTCDateTime(), comment="First-scan deadline: release + 168 h (< $100) or 336 h."),
    Column(
        "delivery_due_at",
        UTCDateTime(),
        comment="Delivery deadline for Confirmed Delivery (release + 30 days) or Wish Express "
        "(release + 5 business days); null otherwise.",
    ),
    Column("order_updated_at", UTCDateTime(), nullable=False, comment="The order's updated_at it was derived from."),
    Column("last_polled_at", UTCDateTime(), comment="When Wishflow last read the order from Wish for this parcel."),
    Column("poll_count", Integer, nullable=False, comment="How many times the parcel was read from Wish."),
    Column("origin_country", String(8), comment="Country the parcel ships from (ISO-2)."),
    _loaded_at(),
    Index(None, "store", "status", "last_polled_at"),
    comment="Current normalised status of every shipment (order and tracking number), derived from "
    "orders and order_events (the raw payload stays in orders.raw).",
)

tracking_exceptions = Table(
    "tracking_exceptions",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store the row belongs to."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column("tracking_number", String(128), primary_key=True, comment="The parcel's tracking number."),
    Column(
        "exception_type",
        String(48),
        primary_key=True,
        comment="FIRST_SCAN_LATE, NO_MOVEMENT, TRACKING_CANCELLED, CONFIRMED_DELIVERY_LATE or WISH_EXPRESS_LATE.",
    ),
    Column(
        "opened_at",
        UTCDateTime(),
        primary_key=True,
        comment="When Wishflow first saw the condition (a recurrence opens a new row).",
    ),
    Column("severity", String(16), nullable=False, comment="at_risk (deadline near) or missed (deadline passed)."),
    Column("deadline_at", UTCDateTime(), comment="The deadline the exception is about, if any."),
    Column("details", Text, nullable=False, comment="What is wrong, in words."),
    Column("escalated_at", UTCDateTime(), comment="When an at_risk exception became missed."),
    Column("resolved_at", UTCDateTime(), comment="When the condition cleared (null while open)."),
    Column("resolution", String(64), comment="How it cleared: scanned, delivered, reshipped, refunded, ..."),
    _loaded_at(),
    Index(None, "store", "resolved_at"),
    comment="Shipments at risk or late: opened when detected, resolved when the condition clears.",
)
