"""Flow ``validate_orders``: stage 2, hold back orders that cannot be shipped as they are.

Every order whose current version has not been judged is validated in batches (one read, one
validate and one record task per batch). Orders failing a blocking rule are quarantined with their
reasons until a fixed version passes; the shipping stage only takes orders from
``ready_to_ship_order_ids``. The flow publishes counts per rule, the quarantined orders and the
keyed ``unprocessed-orders-by-deadline`` table, and, when a notification block is named, one digest
of the orders close to their ship-by deadline (quarantined ones included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

from prefect import flow, get_run_logger
from prefect.futures import PrefectFuture
from prefect.states import Cancelled
from pydantic import Field

from blocks.shipping import resolve_shipping_policy
from flows.common import overlapped_schedule, run_record
from tasks.common import Handoff, quoted
from tasks.notify import send_notification
from tasks.statistics import refresh_planner_statistics
from tasks.validation import (
    publish_validation_artifacts,
    read_order_views,
    read_pending_orders,
    record_validation,
    validate_orders_frame,
)
from wishflow.config import DEFAULT_STORE
from wishflow.notify.digest import deadline_risk_digest
from wishflow.validation.store import DEFAULT_BATCH_SIZE
from wishflow.warehouse.statistics import MIN_ROWS, VALIDATION_TABLES

if TYPE_CHECKING:
    import pandas as pd


@flow(name="validate_orders", log_prints=False, validate_parameters=True)
def validate_orders(
    store: str = DEFAULT_STORE,
    warehouse_block: str | None = None,
    batch_size: Annotated[int, Field(ge=1, le=500_000)] = DEFAULT_BATCH_SIZE,
    risk_hours: Annotated[float, Field(gt=0)] = 24.0,
    notify_block: str | None = None,
    shipping_block: str | None = None,
) -> dict[str, Any]:
    """Validate pending orders with Great Expectations; quarantine the bad ones.

    Args:
        store: Store name, as recorded in the warehouse.
        warehouse_block: Warehouse block name (else environment).
        batch_size: Orders validated per task run; the process's peak memory follows it (283 MB at
            the default 40,000 over a 1M-order backfill, 298 MB at 50,000, 197 MB of it imports;
            smaller batches need less and take longer, `wishflow.validation.store.DEFAULT_BATCH_SIZE`).
        risk_hours: Notify about unshipped orders with fewer hours than this left.
        notify_block: Notification block for the deadline-risk digest ('type-slug/name').
        shipping_block: Shipping policy block whose `bounds` hold orders past them (else environment/default).
    """
    overlap = overlapped_schedule()
    if overlap:
        # A State returned by a flow becomes its final state (Prefect); the annotation names the usual result.
        return cast("dict[str, Any]", Cancelled(message=overlap))
    logger = get_run_logger()
    # the merchant's blocking upper bounds (issue 18) live in the shipping policy
    bounds = resolve_shipping_policy(shipping_block).policy().bounds
    now = datetime.now(UTC)
    totals: dict[str, Any] = {"batches": 0, "validated": 0, "valid": 0, "invalid": 0, "unattributed_failures": 0}
    by_rule: dict[str, int] = {}
    with run_record(warehouse_block, store, "validate") as record:
        run_id = record.run_id
        record.details = {**totals, "by_rule": by_rule}
        after: str | None = None
        # Batch N's verdicts are written (a task in Prefect's task runner) while batch N+1 is read
        # and validated, so PostgreSQL's merge and GX's pandas work overlap. Each batch is its own
        # transaction over its own orders (read by keyset after the last one), so which commits
        # first does not matter; one batch is written at a time, and the flow fails on the first
        # batch that cannot be written, after the batch being written, if any, has ended.
        writing: PrefectFuture[dict[str, int]] | None = None
        writing_batch = 0

        def written(future: PrefectFuture[dict[str, int]], batch: int) -> None:
            counts = future.result()
            for key, value in counts.items():
                totals[key] += value
            record.counts, record.details = _counts(totals), {**totals, "by_rule": by_rule}
            logger.info("batch %d: %d validated, %d quarantined", batch, counts["validated"], counts["invalid"])

        try:
            while True:
                # pandas is untyped here, so mypy cannot tell the task's sync overload from its async one: the frame.
                frame = cast("pd.DataFrame", read_pending_orders(warehouse_block, store, after, batch_size))
                if frame.empty:
                    break
                after = str(frame["order_id"].iloc[-1])
                # quoted(): Prefect would otherwise walk every value of the frame and the outcome (both for the
                # task's inputs and to resolve futures in them), seconds per 50k-order batch.
                # Handoffs: the tasks let go of the batch and its outcome when done with them, since
                # Prefect may keep a finished task run's parameters and result (tasks.common.Handoff)
                outcome = validate_orders_frame(quoted(Handoff(frame)), now, bounds).take()
                del frame  # before the next batch is read: both would otherwise be alive at once
                if writing is not None:
                    written(writing, writing_batch)
                    writing = None
                totals["batches"] += 1
                writing_batch = totals["batches"]
                writing = record_validation.submit(
                    warehouse_block, store, run_id, quoted(Handoff(outcome)), writing_batch, now
                )
                for rule, count in outcome.counts_by_expectation().items():
                    by_rule[rule] = by_rule.get(rule, 0) + count
                del outcome
            if writing is not None:
                written(writing, writing_batch)
                writing = None
        finally:
            if writing is not None:
                # the run failed while a batch was being written: wait for it, and count it if it landed
                writing.wait()
                if writing.state.is_completed():
                    written(writing, writing_batch)
        if totals["validated"] >= MIN_ROWS:
            # before the views are read: their joins need counted tables (wishflow.warehouse.statistics)
            refresh_planner_statistics(warehouse_block, list(VALIDATION_TABLES), totals["validated"])
        views = read_order_views(warehouse_block, store, risk_hours)
        publish_validation_artifacts(store, totals, by_rule, views)
        notified = False
        if notify_block and views.due_soon:
            due = views.deadlines
            digest = deadline_risk_digest(
                store, views.due_soon, risk_hours, total=due.due, overdue=due.overdue, quarantined=due.quarantined
            )
            notified = send_notification(notify_block, digest.title, digest.body)
        details = {
            **totals,
            "by_rule": by_rule,
            "quarantined_open": views.quarantined_count,
            "at_risk": views.deadlines.at_risk,
            "notified": notified,
        }
        record.counts, record.details = _counts(totals), details
    logger.info(
        "store %s: %d validated, %d valid, %d quarantined; %d at risk within %g h",
        store,
        totals["validated"],
        totals["valid"],
        totals["invalid"],
        views.deadlines.at_risk,
        risk_hours,
    )
    return {"store": store, "run_id": run_id, **details}


def _counts(totals: dict[str, Any]) -> dict[str, int]:
    return {"fetched": totals["validated"], "quarantined": totals["invalid"]}
