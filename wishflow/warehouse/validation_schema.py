"""Validation tables: the current verdict per order, the findings history, and one row per batch run.

They live on the one warehouse ``metadata`` (Alembic migration ``0002``). An order's verdict is tied
to the ``updated_at`` it judged, so a newer upstream version is validated again, and an order leaves
quarantine only when a later version passes.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from wishflow.warehouse.metadata import metadata
from wishflow.warehouse.types import RawJSON, UTCDateTime

order_validations = Table(
    "order_validations",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column(
        "validated_updated_at",
        UTCDateTime(),
        nullable=False,
        comment="The order's updated_at that was judged; a newer version is validated again.",
    ),
    Column("status", String(16), nullable=False, comment="valid or invalid (quarantined)."),
    Column("blocking_failures", Integer, nullable=False, comment="Blocking rules the version failed."),
    Column("warning_failures", Integer, nullable=False, comment="Warning rules the version failed."),
    Column("run_id", String(64), comment="The run that judged it."),
    Column("validated_at", UTCDateTime(), nullable=False, comment="When it was judged."),
    Column("quarantined_since", UTCDateTime(), comment="Start of the current quarantine (null when valid)."),
    Column("released_from_quarantine_at", UTCDateTime(), comment="When a fixed version last passed."),
    Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC)."),
    Index(None, "store", "status"),
    comment="Current validation verdict per order; invalid orders are quarantined and never shipped.",
)

order_validation_queue = Table(
    "order_validation_queue",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column("updated_at", UTCDateTime(), nullable=False, comment="The order version awaiting a verdict."),
    Column("queued_at", UTCDateTime(), nullable=False, comment="When the loader recorded that version."),
    comment=(
        "Orders whose current version awaits validation: the loader adds each new or newer version, a "
        "verdict on it removes the row. A narrow table, so that judging an order never rewrites the "
        "order's wide row."
    ),
)

order_validation_failures = Table(
    "order_validation_failures",
    metadata,
    Column("store", String(100), primary_key=True, comment="The merchant store."),
    Column("order_id", String(64), primary_key=True, comment="Wish's order id."),
    Column("expectation", String(100), primary_key=True, comment="The rule that failed (see the suites)."),
    Column("column_name", String(64), nullable=False, comment="The column the rule checks."),
    Column("severity", String(16), nullable=False, comment="blocking (quarantines the order) or warning."),
    Column("observed_value", Text, comment="The value seen when the rule last failed."),
    Column("run_id", String(64), comment="The run that last saw the failure."),
    Column("first_seen_at", UTCDateTime(), nullable=False, comment="First time the rule failed."),
    Column("last_seen_at", UTCDateTime(), nullable=False, comment="Latest time the rule failed."),
    Column("resolved_at", UTCDateTime(), comment="When a later version of the order passed the rule."),
    Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC)."),
    Index(None, "store", "resolved_at"),
    comment="Validation findings per order and rule, merged on that key; resolved, never deleted.",
)

validation_runs = Table(
    "validation_runs",
    metadata,
    Column("run_id", String(64), primary_key=True, comment="The flow run (or a generated id)."),
    Column("batch_number", Integer, primary_key=True, comment="Batch within the run, from 1."),
    Column("store", String(100), nullable=False, comment="The merchant store."),
    Column("validated_at", UTCDateTime(), nullable=False, comment="The clock the batch was judged by."),
    Column("orders_validated", Integer, nullable=False, comment="Orders in the batch."),
    Column("orders_valid", Integer, nullable=False, comment="Orders that passed every blocking rule."),
    Column("orders_invalid", Integer, nullable=False, comment="Orders quarantined by the batch."),
    Column("failures_by_expectation", RawJSON, nullable=False, comment="Failing orders per rule."),
    Column("gx_result", RawJSON, nullable=False, comment="Great Expectations' result JSON (value lists sampled)."),
    Column("seconds", Integer, comment="Whole seconds spent validating."),
    Column("_loaded_at", UTCDateTime(), nullable=False, comment="When Wishflow wrote this row (UTC)."),
    comment="One row per validated batch: counts and the Great Expectations result.",
)
