"""Order validation with Great Expectations: suites in code, quarantine, and deadline views.

Importing this package does not import GX (≈4.7 s); the first validation does, once per process.
Entry points: :func:`validate_frame` (a DataFrame in, a :class:`ValidationOutcome` out),
:func:`read_pending_batch` / :func:`record_outcome` (the warehouse side), and the view queries
:func:`ready_to_ship_order_ids`, :func:`unprocessed_orders`, :func:`orders_at_risk`,
:func:`quarantined_orders`.
"""

from __future__ import annotations

from wishflow.validation.outcome import Failure, ValidationOutcome
from wishflow.validation.pipeline import validate_pending
from wishflow.validation.queries import (
    is_ready_to_ship,
    orders_at_risk,
    orders_due_within,
    quarantined_orders,
    ready_to_ship_order_ids,
    unprocessed_orders,
)
from wishflow.validation.store import count_pending, iter_pending_batches, read_pending_batch, record_outcome
from wishflow.validation.validate import ValidationError, prepare_frame, validate_frame

__all__ = [
    "Failure",
    "ValidationError",
    "ValidationOutcome",
    "count_pending",
    "is_ready_to_ship",
    "iter_pending_batches",
    "orders_at_risk",
    "orders_due_within",
    "prepare_frame",
    "quarantined_orders",
    "read_pending_batch",
    "ready_to_ship_order_ids",
    "record_outcome",
    "unprocessed_orders",
    "validate_frame",
    "validate_pending",
]
