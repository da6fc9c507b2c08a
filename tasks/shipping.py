"""Tasks of shipping, one action each.

Plan (one task run per ship run), submit one batch, reconcile uncertain rows, follow processing status, modify tracking,
change an address.

Task runs grow with batches, never with orders. Retrying a task is safe: the outbox's claims and
read-backs make a second attempt continue where the first stopped instead of sending again. Each task
returns the library's own result (:class:`~wishflow.shipping.service.PlanResult`,
:class:`~wishflow.shipping.submit.SubmitReport`, :class:`~wishflow.shipping.service.SingleResult`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from prefect import task

from blocks.shipping import resolve_shipping_policy
from blocks.wish import build_wish_client, resolve_wish_settings
from tasks.common import API_TASK, engine_for
from wishflow.api.contract import WishApi
from wishflow.shipping import service
from wishflow.shipping.service import PlanResult, ShipRequest, SingleResult
from wishflow.shipping.submit import SubmitReport, Submitter, record_orders


def _submitter(client: WishApi, warehouse_url: str, workers: int, max_rate: float | None) -> Submitter:
    """The run's submitter.

    Its workers' requests wait at the client's one pacer, tightened to the policy's ``max_rate`` and to pace ``workers``
    calls ahead of Wish's limit (no second limiter).
    """
    engine = engine_for(warehouse_url)
    return Submitter(client, engine, workers=workers, max_rate=max_rate, on_payloads=record_orders(engine))


def _settled(report: SubmitReport, *, raise_fatal: bool = True) -> SubmitReport:
    """The report a task returns.

    The exception that stopped the pass raised as the client raised it (its class decides retries), the sent payloads
    (already recorded) left out of the task result.
    """
    if raise_fatal and report.fatal:
        raise report.fatal[0]
    report.payloads = []
    return report


@task(name="plan-shipments", **API_TASK)
def plan_shipments(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    policy_block: str | None,
    request: ShipRequest,
    run_id: str,
) -> PlanResult:
    """Decide, combine, batch and (unless dry run) label the ready orders and save them to the outbox."""
    block = resolve_shipping_policy(policy_block)
    settings = resolve_wish_settings(wish_block)
    numbers = dict(request.tracking_numbers) or None
    with build_wish_client(wish_block) as client:
        return service.plan_and_save(
            engine_for(warehouse_url),
            client,
            store,
            block.policy(),
            skus=block.skus(),
            order_ids=list(request.order_ids) or None,
            carrier=request.carrier or None,
            package=request.package or None,
            tracking_numbers=numbers,
            labels=None if request.dry_run or numbers else block.label_source(settings.api_base_url),
            dry_run=request.dry_run,
            max_batch_size=request.max_batch_size,
            run_id=run_id,
        )


@task(name="submit-shipment-batch", timeout_seconds=3600, **API_TASK)
def submit_batch(
    warehouse_url: str, wish_block: str | None, batch_id: str, workers: int, max_rate: float | None
) -> SubmitReport:
    """Claim and send one batch's planned rows (concurrently, within the rate limit)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, max_rate) as submitter:
        report = submitter.submit_batch(batch_id)
    return _settled(report)


@task(name="reconcile-shipments", **API_TASK)
def reconcile_shipments(
    store: str, warehouse_url: str, wish_block: str | None, lease_seconds: float, workers: int
) -> SubmitReport:
    """Settle rows left in ``submitting`` by runs that died or timed out (read back before resending)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, None) as submitter:
        report = submitter.reconcile(store, lease=timedelta(seconds=lease_seconds))
    return _settled(report)


@task(name="follow-shipments", **API_TASK)
def follow_shipments(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    wait_seconds: float,
    workers: int,
    shipment_ids: list[str] | None = None,
) -> SubmitReport:
    """Follow submitted rows (all of the store's, or ``shipment_ids``) until Wish has processed them.

    Rows are followed until Wish's processing_status is SUCCEEDED or FAILED (or time is up). Following only reads: what
    it could not read is left for the next run, never a failed run.
    """
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, workers, None) as submitter:
        report = submitter.follow(
            store,
            wait_seconds=wait_seconds,
            poll_interval=min(2.0, max(wait_seconds, 0.1)),
            shipment_ids=shipment_ids,
        )
    return _settled(report, raise_fatal=False)


@task(name="modify-tracking", **API_TASK)
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
) -> SingleResult:
    """Replace the tracking of one shipped order, exactly once (outbox row first, then the call)."""
    with build_wish_client(wish_block) as client, _submitter(client, warehouse_url, 1, None) as submitter:
        return service.modify_tracking(
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


@task(name="change-address", **API_TASK)
def change_address_task(
    store: str,
    warehouse_url: str,
    wish_block: str | None,
    order_id: str,
    address: Mapping[str, Any],
    follow_seconds: float,
    run_id: str,
) -> SingleResult:
    """Change the address of one order before it ships, exactly once."""
    with build_wish_client(wish_block) as client:
        return service.change_address(
            engine_for(warehouse_url), client, store, order_id, address, follow_seconds=follow_seconds, run_id=run_id
        )
