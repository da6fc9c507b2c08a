"""Flow ``poll_tracking``: stage 4 of the merchant's process, following parcels to delivery.

1. Read the orders Wish changed since the last poll (by ``updated_at``, tracking's own cursor), a
   chunk of pages per task run.
2. Read, by id and in batches, the shipped-not-delivered parcels that went quiet and were not read
   within their poll interval (shorter when a deadline is near).
3. Derive each shipment's normalised status, its history and its exceptions: first scan late or
   about to be, no movement, tracking cancelled (the order goes back to the ship queue and the old
   number is void), confirmed-delivery or Wish Express deadline at risk or missed.
4. Publish the open exceptions as an artifact and send one digest notification.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Cancelled
from pydantic import Field

from blocks.warehouse import resolve_warehouse_url
from flows.common import overlapped_schedule, run_record
from tasks.common import quoted
from tasks.tracking import (
    derive_tracking,
    notify_tracking,
    plan_tracking,
    refresh_changed_pages,
    refresh_parcels,
    select_due_parcels,
    tracking_report,
)
from wishflow.api.pagination import Position
from wishflow.config import DEFAULT_STORE
from wishflow.tracking import TrackingPolicy


@flow(name="poll_tracking", log_prints=False, validate_parameters=True)
def poll_tracking(
    store: str = DEFAULT_STORE,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
    notify_block: str | None = None,
    poll_interval_hours: Annotated[float, Field(gt=0)] = 12.0,
    urgent_poll_interval_hours: Annotated[float, Field(gt=0)] = 3.0,
    first_scan_warning_hours: Annotated[float, Field(ge=0)] = 48.0,
    delivery_warning_hours: Annotated[float, Field(ge=0)] = 48.0,
    stall_days: Annotated[float, Field(gt=0)] = 14.0,
    max_polls: Annotated[int, Field(ge=0)] = 20_000,
    ids_per_task: Annotated[int, Field(ge=1, le=5000)] = 500,
    max_workers: Annotated[int, Field(ge=1, le=16)] = 8,
    pages_per_task: Annotated[int, Field(ge=1, le=1000)] = 20,
    page_size: Annotated[int, Field(ge=1, le=500)] = 500,
    lookback_minutes: Annotated[float, Field(ge=0)] = 10.0,
    safety_lag_seconds: Annotated[float, Field(ge=0)] = 30.0,
) -> dict[str, Any]:
    """Follow shipped parcels to delivery and flag exceptions.

    Args:
        store: Store name, as recorded in the warehouse.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        notify_block: Notification block for the run's digest of exceptions.
        poll_interval_hours: Read a quiet parcel from Wish at most this often.
        urgent_poll_interval_hours: ... or this often when a deadline is near or an exception is
            open.
        first_scan_warning_hours: Flag a missing first scan this long before its 168/336 h
            deadline.
        delivery_warning_hours: Flag confirmed-delivery / Wish Express orders this long before
            due.
        stall_days: A scanned parcel with no new milestone for this many days is stalled.
        max_polls: At most this many quiet parcels read by id per run (most urgent first).
        ids_per_task: Parcels read by id per task run.
        max_workers: Concurrent GET /orders/{id} per batch.
        pages_per_task: Pages of changed orders per task run.
        page_size: Orders per API page (Wish allows 1-500).
        lookback_minutes: Re-read this much before the cursor (idempotent).
        safety_lag_seconds: Stop this long before Wish's now.
    """
    overlap = overlapped_schedule()
    if overlap:
        # A State returned by a flow becomes its final state (Prefect); the annotation names the usual result.
        return cast("dict[str, Any]", Cancelled(message=overlap))
    logger = get_run_logger()
    warehouse_url = resolve_warehouse_url(warehouse_block)
    policy = TrackingPolicy(
        first_scan_warning=timedelta(hours=first_scan_warning_hours),
        delivery_warning=timedelta(hours=delivery_warning_hours),
        stall_after=timedelta(days=stall_days),
        poll_interval=timedelta(hours=poll_interval_hours),
        urgent_poll_interval=timedelta(hours=urgent_poll_interval_hours),
    )
    totals: dict[str, Any] = {"fetched": 0, "changed": 0, "pages": 0, "polled_by_id": 0, "not_found": 0}
    with run_record(warehouse_block, store, "track") as record:
        run_id = record.run_id
        record.counts, record.details = {"fetched": 0}, totals  # on failure: what was read so far
        plan = plan_tracking(
            store,
            warehouse_url,
            wish_block,
            timedelta(minutes=lookback_minutes),
            timedelta(seconds=safety_lag_seconds),
        )
        now = plan.now
        changed: list[str] = []
        position: Position | None = None
        while True:
            chunk = refresh_changed_pages(
                store, warehouse_url, wish_block, plan.window, position, pages_per_task, page_size, run_id
            )
            totals["fetched"] += chunk.fetched
            record.counts["fetched"] = totals["fetched"]
            totals["pages"] += chunk.pages
            changed.extend(chunk.changed_order_ids)
            position = chunk.next_position
            if position is None:
                break
        totals["changed"] = len(changed)
        due = select_due_parcels(store, warehouse_url, now, policy, quoted(sorted(set(changed))), max_polls)
        polled: list[str] = []
        for start in range(0, len(due), ids_per_task):
            batch = due[start : start + ids_per_task]
            result = refresh_parcels(store, warehouse_url, wish_block, quoted(batch), max_workers, run_id)
            totals["not_found"] += result.not_found
            polled.extend(batch)
        totals["polled_by_id"] = len(polled)
        update = derive_tracking(store, warehouse_url, now, policy, quoted(sorted(set(changed) | set(polled))))
        update_json = update.to_json()
        details = {**totals, **{k: v for k, v in update_json.items() if k != "changes"}}
        record.counts = {"fetched": totals["fetched"] + totals["polled_by_id"], "changed": totals["changed"]}
        record.details = details
    report = tracking_report(store, warehouse_url)
    create_markdown_artifact(
        key="tracking-exceptions",
        markdown=report,
        description=f"Open tracking exceptions for store {store}.",
    )
    notified = notify_tracking(notify_block, store, update)
    logger.info(
        "store %s: %d changed orders read in %d pages, %d quiet parcels polled; %d shipments written, "
        "exceptions %d opened / %d escalated / %d resolved; %d numbers voided; statuses %s",
        store,
        totals["changed"],
        totals["pages"],
        totals["polled_by_id"],
        update.shipments_written,
        update.count("opened"),
        update.count("escalated"),
        update.count("resolved"),
        len(update.voided),
        update.statuses,
    )
    return {
        "store": store,
        "run_id": run_id,
        "now": now.isoformat(),
        **details,
        "notified": notified,
        "update": update_json,
    }
