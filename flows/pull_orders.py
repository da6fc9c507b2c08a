"""Flow ``pull_orders``: stage 1 of the merchant's process, order receipt and notification.

Incremental by default (from the saved cursor, with a look-back overlap and a safety lag), or a
backfill over ``since``/``until`` that leaves the incremental cursor alone (a backfill from the
beginning sets it when the store has none, so the first incremental run after it is as cheap as any).
Pages are fetched and recorded in chunks, one task run per chunk; the flow publishes a summary artifact and, when a
notification block is named, one digest of the new orders. The result counts new and changed
orders and lists ``new_order_ids`` only for the 1,000 new orders due soonest (a backfill's million
new orders are counted by the database, never returned). A run that wrote at least 1,000 orders
refreshes the planner's statistics on the tables it filled (PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.states import Cancelled
from pydantic import Field

from blocks.warehouse import resolve_warehouse_url
from flows.common import overlapped_schedule, run_record
from tasks.pull import count_pull_changes, plan_pull, pull_pages
from tasks.statistics import refresh_planner_statistics
from wishflow.api.pagination import Position
from wishflow.config import DEFAULT_STORE
from wishflow.warehouse.statistics import MIN_ROWS, PULL_TABLES


@flow(name="pull_orders", log_prints=False, validate_parameters=True)
def pull_orders(
    store: str = DEFAULT_STORE,
    since: datetime | None = None,
    until: datetime | None = None,
    page_size: Annotated[int, Field(ge=1, le=500)] = 500,
    lookback: timedelta = timedelta(minutes=10),
    safety_lag: timedelta = timedelta(seconds=30),
    pages_per_task: Annotated[int, Field(ge=1, le=1000)] = 20,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
    notify_block: str | None = None,
) -> dict[str, Any]:
    """Pull new and changed orders from Wish into the warehouse.

    Args:
        store: Store name, as recorded in the warehouse.
        since: Backfill from this updated_at (UTC). Empty: incremental.
        until: Backfill up to this updated_at (UTC). Empty: now.
        page_size: Orders per API page (Wish allows 1-500).
        lookback: Incremental overlap re-read before the cursor (idempotent).
        safety_lag: Stop this long before Wish's now.
        pages_per_task: Pages fetched and recorded per task run.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        notify_block: Notification block for the new-orders digest.
    """
    overlap = overlapped_schedule()
    if overlap:
        # A State returned by a flow becomes its final state (Prefect); the annotation names the usual result.
        return cast("dict[str, Any]", Cancelled(message=overlap))
    logger = get_run_logger()
    warehouse_url = resolve_warehouse_url(warehouse_block)
    totals: dict[str, Any] = {
        "fetched": 0,
        "new": 0,
        "changed": 0,
        "unchanged": 0,
        "quarantined": 0,
        "flagged_future": 0,
        "pages": 0,
        "requests": 0,
    }
    with run_record(warehouse_block, store, "pull") as record:
        run_id = record.run_id
        record.counts = totals  # on failure: the totals so far
        planned = plan_pull(store, warehouse_url, wish_block, since, until, lookback, safety_lag)
        sweep = planned.future_sweep()
        window = {**planned.to_json(), "sweep": sweep.to_json() if sweep else None}
        record.details = {"window": window}
        logger.info("store %s: %s", store, window)
        # the window, then (incremental pulls) the sweep of orders dated after Wish's clock
        for current in [planned, *([sweep] if sweep else [])]:
            position: Position | None = None
            while True:
                chunk = pull_pages(
                    store, warehouse_url, wish_block, current, position, pages_per_task, page_size, run_id
                )
                load = chunk.load
                totals["fetched"] += load.fetched
                totals["new"] += load.new
                totals["changed"] += load.changed
                totals["unchanged"] += load.unchanged
                totals["quarantined"] += load.quarantined
                totals["flagged_future"] += chunk.flagged_future
                totals["pages"] += chunk.pages
                totals["requests"] += chunk.requests
                position = chunk.next_position
                if position is None:
                    break
        # A retried chunk re-reads pages an earlier attempt already wrote; the warehouse knows
        # which orders this run recorded first, so the split is taken from it.
        changes = count_pull_changes(store, warehouse_url, run_id)
        new_ids = changes.new_order_ids
        totals["new"], totals["changed"] = changes.new, changes.changed
        totals["unchanged"] = totals["fetched"] - totals["quarantined"] - totals["new"] - totals["changed"]
        written = totals["new"] + totals["changed"]
        if written >= MIN_ROWS:
            # a backfill leaves tables the planner has never counted (see wishflow.warehouse.statistics)
            refresh_planner_statistics(warehouse_block, list(PULL_TABLES), written)
        counts = {k: totals[k] for k in ("fetched", "new", "changed", "unchanged", "quarantined")}
        record.counts, record.details = counts, {"window": window, **totals}
    create_table_artifact(
        key="pull-orders-summary",
        table=[{"store": store, **counts, "pages": totals["pages"], "window": str(window)}],
        description=f"Orders pulled for store {store}: new, changed, unchanged and quarantined.",
    )
    logger.info(
        "store %s: %d fetched, %d new, %d changed, %d unchanged, %d quarantined in %d pages",
        store,
        *counts.values(),
        totals["pages"],
    )
    if notify_block and new_ids:
        from tasks.notify import notify_new_orders

        notify_new_orders(notify_block, store, warehouse_url, new_ids, total=totals["new"])
    return {"store": store, "run_id": run_id, "window": window, **totals, "new_order_ids": new_ids}
