"""Tasks of shipping, one action each: plan (one task run per ship run), submit one batch, reconcile
uncertain rows, follow processing status, modify tracking, change an address.

Task runs grow with batches, never with orders. Retrying a task is safe: the outbox's claims and
read-backs make a second attempt continue where the first stopped instead of sending again.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from prefect import task
from prefect.tasks import exponential_backoff

from blocks.shipping import resolve_shipping_policy
from blocks.wish import build_wish_client, resolve_wish_settings
from tasks.common import engine_for, retry_transient
from wishflow.shipping import service
from wishflow.shipping.submit import SubmitReport, Submitter, record_orders

DEFAULT_WORKERS = int(os.environ.get("WISHFLOW_SHIP_WORKERS", "8"))


def _submitter(client: Any, warehouse_url: str, workers: int, max_rate: float | None) -> Submitter:
    """The run's submitter. Its workers' requests wait at the client's one pacer, tightened to the
    policy's ``max_rate`` and to pace ``workers`` calls ahead of Wish's limit (no second limiter)."""
    engine = engine_for(warehouse_url)
    return Submitter(client, engine, workers=workers, max_rate=max_rate, on_payloads=record_orders(engine))


def _raise_fatal(report: SubmitReport) -> None:
    """Raise the exception that stopped the pass, as the client raised it (its class decides retries)."""
    if report.fatal:
        raise report.fatal[0]


@task(
    name="plan-shipments",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
)
def plan_shipments(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    policy_block: str | None,
    order_ids: list[str] | None,
    carrier: str | None,
    package: str | None,
    tracking_numbers: dict[str, str] | None,
    dry_run: bool,
    max_batch_size: int | None,
    run_id: str,
) -> dict[str, Any]:
    """Decide, combine, batch and (unless dry run) label the ready orders and save them to the outbox."""
    block = resolve_shipping_policy(policy_block)
    settings = resolve_wish_settings(wish_block)
    with build_wish_client(wish_block) as client:
        result = service.plan_and_save(
            engine_for(warehouse_url),
            client,
            store,
            block.policy(),
            skus=block.skus(),
            order_ids=order_ids or None,
            carrier=carrier or None,
            package=package or None,
            tracking_numbers=tracking_numbers or None,
            labels=None if dry_run or tracking_numbers else block.label_source(settings.api_base_url),
            dry_run=dry_run,
            max_batch_size=max_batch_size,
            run_id=run_id,
        )
    return {**result.to_json(), "table": result.plan.table()}


@task(
    name="submit-shipment-batch",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_transient,
    timeout_seconds=3600,
)
def submit_batch(
    warehouse_url: str, wish_block: str | None, batch_id: str, workers: int, max_rate: float | None
) -> dict[str, Any]:
    """Claim and send one batch's planned rows (concurrently, within the rate limit)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, max_rate) as submitter:
        report = submitter.submit_batch(batch_id)
    _raise_fatal(report)
    return {**report.counts(), "failures": report.failures, "conflicts": report.conflicts}


@task(
    name="reconcile-shipments",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=2),
    retry_condition_fn=retry_transient,
)
def reconcile_shipments(
    store: str, warehouse_url: str, wish_block: str | None, lease_seconds: float, workers: int
) -> dict[str, Any]:
    """Settle rows left in ``submitting`` by runs that died or timed out (read back before resending)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, None) as submitter:
        report = submitter.reconcile(store, lease=timedelta(seconds=lease_seconds))
    _raise_fatal(report)
    return {**report.counts(), "failures": report.failures, "conflicts": report.conflicts}


@task(
    name="follow-shipments",
    retries=2,
    retry_delay_seconds=5,
    retry_condition_fn=retry_transient,
)
def follow_shipments(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    wait_seconds: float,
    workers: int,
    shipment_ids: list[str] | None = None,
) -> dict[str, Any]:
    """Follow submitted rows (all of the store's, or ``shipment_ids``) until Wish's processing_status is
    SUCCEEDED or FAILED (or time is up)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, None) as submitter:
        report = submitter.follow(
            store,
            wait_seconds=wait_seconds,
            poll_interval=min(2.0, max(wait_seconds, 0.1)),
            shipment_ids=shipment_ids,
        )
    return {**report.counts(), "failures": report.failures, "conflicts": report.conflicts}


@task(name="modify-tracking", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def modify_tracking_task(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    order_id: str,
    tracking_number: str,
    carrier: str,
    origin_country: str | None,
    ship_note: str | None,
    follow_seconds: float,
    run_id: str,
) -> dict[str, Any]:
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, 1, None) as submitter:
        result = service.modify_tracking(
            engine_for(warehouse_url),
            client,
            submitter,
            store,
            order_id,
            tracking_number=tracking_number,
            carrier=carrier,
            origin_country=origin_country,
            ship_note=ship_note,
            follow_seconds=follow_seconds,
            run_id=run_id,
        )
    return result.__dict__


@task(name="change-address", retries=2, retry_delay_seconds=5, retry_condition_fn=retry_transient)
def change_address_task(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    order_id: str,
    address: dict[str, Any],
    follow_seconds: float,
    run_id: str,
) -> dict[str, Any]:
    with build_wish_client(wish_block) as client:
        result = service.change_address(
            engine_for(warehouse_url), client, store, order_id, address, follow_seconds=follow_seconds, run_id=run_id
        )
    return result.__dict__
