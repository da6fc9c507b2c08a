"""Validate everything pending for a store without Prefect (scripts, benchmarks, tests).

The ``validate_orders`` flow runs the same three steps per batch as separate tasks; this is the
plain loop: read a batch of unjudged orders, validate it, record the verdicts.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from wishflow.validation.bounds import ValidationBounds
from wishflow.validation.store import DEFAULT_BATCH_SIZE, read_pending_batch, record_outcome
from wishflow.validation.validate import validate_frame


def validate_pending(
    engine: Engine,
    store: str,
    run_id: str,
    *,
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    bounds: ValidationBounds | None = None,
) -> dict[str, object]:
    """Judge every order of ``store`` whose current version is unjudged.

    Returns totals and the failing-order counts per rule.
    """
    now = now or datetime.now(UTC)
    totals: dict[str, int] = {"batches": 0, "validated": 0, "valid": 0, "invalid": 0, "unattributed_failures": 0}
    by_rule: dict[str, int] = {}
    after: str | None = None
    while True:
        frame = read_pending_batch(engine, store, after_order_id=after, limit=batch_size)
        if frame.empty:
            break
        after = str(frame["order_id"].iloc[-1])
        outcome = validate_frame(frame, now, bounds)
        totals["batches"] += 1
        counts = record_outcome(engine, store, run_id, outcome, batch_number=totals["batches"], now=now)
        for key, value in counts.items():
            totals[key] += value
        for rule, count in outcome.counts_by_expectation().items():
            by_rule[rule] = by_rule.get(rule, 0) + count
        del frame, outcome  # before the next batch is read: both would otherwise be alive at once
    return {**totals, "failures_by_expectation": dict(sorted(by_rule.items()))}
