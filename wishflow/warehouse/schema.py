"""The warehouse schema: one SQLAlchemy metadata, which Alembic migrates (the only schema writer).

Conventions (DESIGN.md §3): plural snake_case tables, ``*_id`` keys, ``*_at`` UTC timestamps, money
as exact decimals beside a currency column, the raw payload kept beside the flattened columns, and
``store`` plus ``_loaded_at`` on every row. Column comments feed the analysts' data dictionary.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wishflow.warehouse.metadata import metadata as metadata  # re-exported: the schema is imported from here
from wishflow.warehouse.types import LongText, Money, RawJSON, UTCDateTime, exact_money


def _store() -> Column[str]:
    return Column("store", String(100), primary_key=True, comment="The merchant store the row belongs to.")


def _loaded_at() -> Column[object]:
    return Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC).")


orders = Table(
    "orders",
    metadata,
    _store(),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column("transaction_id", String(64), comment="Wish transaction; several orders can share one."),
    Column(
        "state",
        String(32),
        nullable=False,
        comment="APPROVED, SHIPPED, REFUNDED, REQUIRE_REVIEW or DECLINED.",
    ),
    Column("released_at", UTCDateTime(), comment="When Wish released the order to the merchant."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="Wish's last update of the order (source)."),
    Column("expected_ship_time", UTCDateTime(), comment="Ship-by deadline: mark shipped before this."),
    Column("expected_delivery_time", UTCDateTime(), comment="When delivery should be confirmed by."),
    Column("product_id", String(64), comment="Wish product id."),
    Column("product_name", Text, comment="Product name."),
    Column("variation_id", String(64), comment="Wish product variation id."),
    Column("sku", String(255), comment="The merchant's SKU of the variation."),
    Column("color", String(255), comment="Variation colour, if any."),
    Column("size", String(255), comment="Variation size, if any."),
    Column("quantity", Integer, comment="Units ordered."),
    Column("product_price", Money, comment="Product price per unit (currency_code)."),
    exact_money("product_price"),
    Column("shipping_price", Money, comment="Shipping price per unit set by the merchant (currency_code)."),
    exact_money("shipping_price"),
    Column("payment_total", Money, comment="What Wish pays the merchant for the order (currency_code)."),
    exact_money("payment_total"),
    Column("currency_code", String(3), comment="ISO 4217 currency of the money columns."),
    Column("recipient_name", Text, comment="Recipient's name."),
    Column("street_address1", Text, comment="Street address line 1."),
    Column("street_address2", Text, comment="Street address line 2."),
    Column("street_address3", Text, comment="Street address line 3."),
    Column("city", Text, comment="Destination city."),
    Column("province", Text, comment="Destination state or province."),
    Column("zipcode", String(64), comment="Destination postal code."),
    Column("country_code", String(8), comment="Destination country (ISO 3166-1 alpha-2)."),
    Column("phone_number", String(64), comment="Recipient phone number."),
    Column("phone_country_code", String(16), comment="Country calling code of the phone number."),
    Column("order_types", Text, comment="Comma-separated fulfillment_order_types (programs)."),
    Column("is_wish_express", Boolean, nullable=False, comment="Wish Express order (5 business days)."),
    Column("is_confirmed_delivery", Boolean, nullable=False, comment="Confirmed Delivery Policy order."),
    Column("warehouse_id", String(64), comment="The merchant warehouse the order ships from."),
    Column("tracking_number", String(128), comment="Latest tracking number on the order."),
    Column("shipping_provider", String(128), comment="Carrier of the latest tracking number."),
    Column("origin_country", String(8), comment="Country the parcel ships from."),
    Column(
        "processing_source",
        String(32),
        comment="Last asynchronous write on the order (e.g. UPDATE_TRACKING).",
    ),
    Column("processing_status", String(32), comment="IN_PROGRESS, SUCCEEDED or FAILED for that write."),
    Column("shipped_at", UTCDateTime(), comment="MARK_SHIPPED milestone."),
    Column("first_scan_at", UTCDateTime(), comment="CONFIRM_FULFILLED milestone (first carrier scan)."),
    Column("delivered_at", UTCDateTime(), comment="CONFIRMED_DELIVERED milestone."),
    Column("tracking_cancelled_at", UTCDateTime(), comment="Latest TRACKING_CANCELLED milestone."),
    Column("refunded_at", UTCDateTime(), comment="Latest refund time, if refunded."),
    Column(
        "input_problems",
        Text,
        comment="Fields Wish sent with the wrong type ('city: object {...} (expected text)'; '; '-separated); "
        "their columns stay empty and the order is quarantined (rule field_types_valid).",
    ),
    Column("raw", RawJSON, nullable=False, comment="The order payload exactly as Wish returned it."),
    Column("first_seen_run_id", String(64), comment="The pipeline run that first recorded the order."),
    Column("last_run_id", String(64), comment="The pipeline run that last wrote a newer payload."),
    _loaded_at(),
    # order_id last: the deadline views sort by (expected_ship_time, order_id), so their first rows are
    # read off the index instead of sorting every open order
    Index(None, "store", "state", "expected_ship_time", "order_id"),
    # no (store, updated_at) index: nothing reads one, and every upsert maintained it (migration 0010)
    Index(None, "store", "last_run_id"),
    comment="Current state of every order, one row per store and order id.",
)

#: ``orders`` columns the loader fills itself; every other column is read from the order's payload.
ORDER_LOADER_COLUMNS: tuple[str, ...] = ("store", "first_seen_run_id", "last_run_id", "_loaded_at")
#: The ``orders`` columns filled from a payload, in table order (derived from the table, never copied;
#: the database's generated columns, money's exact ``*_e4`` twins, are never written).
ORDER_PAYLOAD_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in orders.columns if c.name not in ORDER_LOADER_COLUMNS and c.computed is None
)

order_events = Table(
    "order_events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("order_id", String(64), nullable=False, comment="Wish's order id."),
    Column(
        "event_type",
        String(64),
        nullable=False,
        comment="A fulfillment milestone (ORDER_RELEASED, MARK_SHIPPED, ...) or STATE_CHANGED.",
    ),
    Column("event_time", UTCDateTime(), nullable=False, comment="When it happened at Wish."),
    Column("from_state", String(32), comment="For STATE_CHANGED: the previous state (null when first seen)."),
    Column("to_state", String(32), comment="For STATE_CHANGED: the new state."),
    _loaded_at(),
    UniqueConstraint("store", "order_id", "event_type", "event_time"),
    comment="Append-only history of order state changes and fulfillment milestones.",
)

sync_state = Table(
    "sync_state",
    metadata,
    _store(),
    Column("stream", String(64), primary_key=True, comment="What the cursor covers, e.g. orders."),
    Column("cursor_value", UTCDateTime(), nullable=False, comment="High-water mark of the source's updated_at."),
    Column("run_id", String(64), comment="The run that last advanced the cursor."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="When the cursor last moved."),
    comment="Incremental sync cursors; moved only in the transaction that saves the data they cover.",
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_id", String(64), primary_key=True, comment="Prefect flow run id (or a generated id)."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("stage", String(64), nullable=False, comment="pull, validate, ship, track, follow_up, ..."),
    Column("started_at", UTCDateTime(), nullable=False, comment="Start of the run."),
    Column("finished_at", UTCDateTime(), comment="End of the run (null while running or if it died)."),
    Column("outcome", String(32), nullable=False, comment="running, succeeded or failed."),
    Column("records_fetched", Integer, comment="Records read from Wish."),
    Column("records_new", Integer, comment="Orders seen for the first time."),
    Column("records_changed", Integer, comment="Orders updated with a newer payload."),
    Column("records_unchanged", Integer, comment="Orders re-read with nothing new."),
    Column("records_quarantined", Integer, comment="Records set aside with a reason."),
    Column("parameters", RawJSON, comment="The run's parameters (never secrets)."),
    Column("details", RawJSON, comment="Stage-specific counts and timings."),
    Column("error", LongText, comment="The error that failed the run, if any."),
    _loaded_at(),
    comment="One row per flow run: stage, counts, timings and outcome.",
)

rejected_records = Table(
    "rejected_records",
    metadata,
    _store(),
    Column("source", String(64), primary_key=True, comment="The API collection, e.g. orders."),
    Column(
        "record_key",
        String(128),
        primary_key=True,
        comment="The record's id, or a hash of its payload when it has no usable id.",
    ),
    Column("order_id", String(64), comment="The order id when the record had one."),
    Column("reason", LongText, nullable=False, comment="Why the record could not be recorded."),
    Column("raw", LongText, nullable=False, comment="The record as received."),
    Column("first_seen_at", UTCDateTime(), nullable=False, comment="First time the record was rejected."),
    Column("last_seen_at", UTCDateTime(), nullable=False, comment="Latest time it was rejected."),
    Column("run_id", String(64), comment="The run that last rejected it."),
    Column("resolved_at", UTCDateTime(), comment="When a valid version of the record arrived."),
    _loaded_at(),
    comment="Records Wish returned that are malformed (not parseable as orders): quarantined, not lost.",
)

from wishflow.warehouse import (  # noqa: E402,F401
    aftersales_schema,
    analytics_schema,  # pseudonym salt and customer keys (issue 22)
    shipping_schema,  # noqa: E402,F401
    tracking_schema,
    validation_schema,  # noqa: E402,F401  (registers the validation tables)
)
