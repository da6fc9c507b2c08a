"""Warehouse tables of shipping: the exactly-once outbox of tracking writes and its reference data.

``shipments`` is the outbox: one row per order in a shipment, written (with its tracking number)
*before* anything is sent to Wish, then moved through ``planned -> submitting -> submitted ->
confirmed`` (or ``failed`` / ``conflict``). ``active_order_id`` equals ``order_id`` while a
shipment is in flight or needs a human (planned, submitting, submitted, conflict) and is NULL
otherwise; its unique constraint is what makes two planners unable to put one order in flight twice.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wishflow.warehouse.metadata import metadata
from wishflow.warehouse.types import LongText, Money, RawJSON, UTCDateTime, exact_money


def _loaded_at() -> Column[object]:
    return Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC).")


shipment_batches = Table(
    "shipment_batches",
    metadata,
    Column("batch_id", String(64), primary_key=True, comment="Batch id (generated when planned)."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("run_id", String(64), comment="The ship run that planned the batch."),
    Column("origin_country", String(8), nullable=False, comment="Country the parcels ship from (ISO-2)."),
    Column("carrier", String(128), nullable=False, comment="Wish shipping_provider name."),
    Column("service", String(64), nullable=False, comment="The carrier's service level (policy outcome)."),
    Column("shipment_count", Integer, nullable=False, comment="Parcels (tracking numbers) in the batch."),
    Column("order_count", Integer, nullable=False, comment="Orders in the batch."),
    Column("earliest_deadline_at", UTCDateTime(), comment="Earliest expected_ship_time in the batch."),
    Column("planned_at", UTCDateTime(), nullable=False, comment="When the batch was planned."),
    _loaded_at(),
    Index(None, "store", "planned_at"),
    comment="Shipment batches: orders grouped by origin, carrier and service, in deadline order.",
)

shipments = Table(
    "shipments",
    metadata,
    Column("shipment_id", String(64), primary_key=True, comment="Id of this order's outbox row."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column(
        "active_order_id",
        String(64),
        comment="order_id while the row is planned/submitting/submitted/conflict, else NULL (one in flight).",
    ),
    Column("kind", String(16), nullable=False, comment="ship (first tracking) or modify (change tracking)."),
    Column("batch_id", String(64), comment="The shipment batch (NULL for single modify/ad-hoc rows)."),
    Column("parcel_id", String(64), nullable=False, comment="Orders sharing one parcel (combined) share this."),
    Column("carrier", String(128), nullable=False, comment="Wish shipping_provider name."),
    Column("service", String(64), comment="Carrier service level."),
    Column("package", String(64), comment="Package preset."),
    Column("weight_grams", Integer, comment="Parcel weight including the package (grams)."),
    Column("origin_country", String(8), nullable=False, comment="Country the parcel ships from (ISO-2)."),
    Column("tracking_number", String(128), nullable=False, comment="The number sent (saved before sending)."),
    Column("previous_tracking_number", String(128), comment="For modify: the number it replaces."),
    Column("ship_note", Text, comment="Optional note sent with the tracking."),
    Column(
        "state",
        String(16),
        nullable=False,
        comment="planned, submitting, submitted, confirmed, failed or conflict.",
    ),
    Column("attempts", Integer, nullable=False, comment="Times the row was claimed for sending."),
    Column("claimed_by", String(128), comment="Worker holding the row while submitting (host:pid:token)."),
    Column("claimed_at", UTCDateTime(), comment="When the current claim was taken."),
    Column("sent_at", UTCDateTime(), comment="Set just before the PUT: NULL means the PUT never left."),
    Column("last_error", LongText, comment="Why the last attempt failed, conflicted or was uncertain."),
    Column("found_tracking_number", String(128), comment="For conflict: the number found on the order."),
    Column("wish_processing_status", String(32), comment="Last processing_status read from Wish."),
    Column("planned_at", UTCDateTime(), nullable=False, comment="When the row was planned."),
    Column("submitted_at", UTCDateTime(), comment="When Wish accepted the write."),
    Column("finished_at", UTCDateTime(), comment="When the row became confirmed, failed or conflict."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="Last change of this row."),
    Column("run_id", String(64), comment="The run that planned the row."),
    Column(
        "label_cost",
        Money,
        comment="Postage the label source reported for the parcel (label_cost_currency), NULL when it reports "
        "none; orders sharing a parcel share one cost, recorded on the parcel's first row (by order_id).",
    ),
    exact_money("label_cost"),
    Column("label_cost_currency", String(3), comment="ISO 4217 currency of label_cost."),
    _loaded_at(),
    UniqueConstraint("store", "active_order_id"),
    Index(None, "store", "order_id", "tracking_number"),
    Index(None, "state", "batch_id"),
    comment="Shipping outbox: one row per order per tracking write; the tracking number is saved first.",
)

shipment_events = Table(
    "shipment_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("shipment_id", String(64), nullable=False, comment="The outbox row."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column("from_state", String(16), comment="State before (NULL when planned)."),
    Column("to_state", String(16), nullable=False, comment="State after."),
    Column("detail", LongText, comment="Why (Wish's message, what was read back, ...)."),
    Column("at", UTCDateTime(), nullable=False, comment="When."),
    Index(None, "store", "order_id"),
    comment="Append-only history of shipment state changes.",
)

address_changes = Table(
    "address_changes",
    metadata,
    Column("change_id", String(64), primary_key=True, comment="Id of this address change."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column("active_order_id", String(64), comment="order_id while in flight or in conflict, else NULL."),
    Column("address", RawJSON, nullable=False, comment="The new shipping address sent to Wish."),
    Column("previous_address", RawJSON, comment="The address read from Wish before the change."),
    Column("state", String(16), nullable=False, comment="planned, submitting, submitted, confirmed, ..."),
    Column("attempts", Integer, nullable=False, comment="Times the change was claimed for sending."),
    Column("claimed_by", String(128), comment="Worker holding the row while submitting."),
    Column("claimed_at", UTCDateTime(), comment="When the current claim was taken."),
    Column("sent_at", UTCDateTime(), comment="Set just before the PUT."),
    Column("last_error", LongText, comment="Why the last attempt failed, conflicted or was uncertain."),
    Column("planned_at", UTCDateTime(), nullable=False, comment="When the change was requested."),
    Column("finished_at", UTCDateTime(), comment="When it became confirmed, failed or conflict."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="Last change of this row."),
    Column("run_id", String(64), comment="The run that requested it."),
    _loaded_at(),
    UniqueConstraint("store", "active_order_id"),
    comment="Address-change outbox (before shipment): the same exactly-once states as shipments.",
)

refund_requests = Table(
    "refund_requests",
    metadata,
    Column("request_id", String(64), primary_key=True, comment="Id of this refund request."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column("active_order_id", String(64), comment="order_id while in flight or in conflict, else NULL."),
    Column("reason", String(64), nullable=False, comment="Refund reason sent (one of the order's refund_reasons)."),
    Column("note", Text, comment="Optional refund_reason_note sent with it."),
    Column("state", String(16), nullable=False, comment="planned, submitting, submitted, confirmed, ..."),
    Column("attempts", Integer, nullable=False, comment="Times the request was claimed for sending."),
    Column("claimed_by", String(128), comment="Worker holding the row while submitting."),
    Column("claimed_at", UTCDateTime(), comment="When the current claim was taken."),
    Column("sent_at", UTCDateTime(), comment="Set just before the PUT."),
    Column("last_error", LongText, comment="Why the last attempt failed, conflicted or was uncertain."),
    Column("wish_processing_status", String(32), comment="Last processing_status read from Wish."),
    Column("planned_at", UTCDateTime(), nullable=False, comment="When the refund was requested."),
    Column("finished_at", UTCDateTime(), comment="When it became confirmed, failed or conflict."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="Last change of this row."),
    Column("run_id", String(64), comment="The run that requested it."),
    _loaded_at(),
    UniqueConstraint("store", "active_order_id"),
    comment="Refund outbox (merchant-requested refunds): the same exactly-once states as shipments.",
)

shipping_skus = Table(
    "shipping_skus",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store."),
    Column("sku", String(255), primary_key=True, comment="The merchant's SKU."),
    Column("weight_grams", Integer, nullable=False, comment="Unit weight (grams)."),
    Column("length_mm", Integer, comment="Unit length (mm)."),
    Column("width_mm", Integer, comment="Unit width (mm)."),
    Column("height_mm", Integer, comment="Unit height (mm)."),
    Column("tags", Text, comment="Comma-separated product tags used by shipping rules."),
    _loaded_at(),
    comment="Per-SKU weight, dimensions and tags for packaging and shipping rules (loaded from CSV).",
)
