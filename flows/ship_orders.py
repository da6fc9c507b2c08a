"""Flows of shipping.

``ship_orders`` (stage 3: submit tracking for ready orders, exactly once), ``modify_tracking`` (replace the tracking of
a shipped order) and ``change_address`` (before shipment).

``ship_orders`` first settles what earlier runs left uncertain (read back, never resend blindly),
then plans the ready orders (policy, combined shipments, batches, labels, saved to the outbox before
anything is sent), submits batch by batch (one task run per batch), and follows Wish's asynchronous
processing. A dry run publishes the plan as a table artifact and sends nothing.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, cast

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Cancelled
from pydantic import Field

from blocks.warehouse import resolve_warehouse_url
from flows.common import current_run_id, overlapped_schedule, run_record
from tasks.ship_choices import check_ship_choices
from tasks.ship_explain import batch_shipment_ids, explain_unshipped
from tasks.shipping import (
    change_address_task,
    follow_shipments,
    modify_tracking_task,
    plan_shipments,
    reconcile_shipments,
    submit_batch,
)
from wishflow.config import DEFAULT_STORE
from wishflow.shipping.explain import OrdersNotShipped
from wishflow.shipping.service import PlanResult, ShipRequest
from wishflow.shipping.submit import SubmitReport


@flow(name="ship_orders", log_prints=False, validate_parameters=True)
def ship_orders(
    store: str = DEFAULT_STORE,
    order_ids: list[str] = [],  # noqa: B006 - Prefect shows the default in the UI; it is never mutated
    carrier: str | None = None,
    tracking_numbers: dict[str, str] = {},  # noqa: B006
    package: str | None = None,
    dry_run: bool = False,
    follow_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0,
    max_batch_size: Annotated[int | None, Field(ge=1, le=5000)] = None,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
    policy_block: str | None = None,
) -> dict[str, Any]:
    """Ship ready orders (or the given ones) to Wish, exactly once per order.

    Args:
        store: Store name, as recorded in the warehouse.
        order_ids: Orders to ship. Empty: every ready order (valid, approved), in batches.
        carrier: Ship every selected order with this carrier (overrides the policy). Must be
            one Wish accepts (GET /orders/shipping_carriers); a wrong name fails at once, listing
            the accepted ones.
        tracking_numbers: Order id -> tracking number, for single shipments with numbers you
            already have.
        package: Package preset for every order (overrides the policy): envelope, small_box,
            medium_box, large_box or one of the policy's own; a wrong name fails at once, listing
            the presets.
        dry_run: Publish the plan as a table artifact; send nothing, buy no labels.
        follow_seconds: How long to follow Wish's processing before leaving it to later.
        max_batch_size: Orders per batch (default: the policy's).
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        policy_block: ShippingPolicy block name (else WISHFLOW_SHIPPING_POLICY or the default).
    """
    overlap = overlapped_schedule()
    if overlap:
        # A State returned by a flow becomes its final state (Prefect); the annotation names the usual result.
        return cast("dict[str, Any]", Cancelled(message=overlap))
    logger = get_run_logger()
    warehouse_url = resolve_warehouse_url(warehouse_block)
    # the form's choices first (one clear error listing the accepted values); the run settings
    # (workers, max_rate, lease_seconds) live in the ShippingPolicy block, not on the form
    choices = check_ship_choices(wish_block, policy_block, carrier, package)
    request = ShipRequest(
        order_ids=tuple(order_ids),
        carrier=choices.carrier,
        package=choices.package,
        tracking_numbers=dict(tracking_numbers),
        dry_run=dry_run,
        max_batch_size=max_batch_size,
    )
    totals = SubmitReport()
    plan: PlanResult | None = None
    with run_record(warehouse_block, store, "ship") as record:
        run_id = record.run_id
        if not dry_run:
            totals.add(reconcile_shipments(store, warehouse_url, wish_block, choices.lease_seconds, choices.workers))
            record.details = _details(plan, totals)
        plan = plan_shipments(store, warehouse_url, wish_block, policy_block, request, run_id)
        record.details = _details(plan, totals)
        summary = plan.to_json()
        if dry_run:
            create_table_artifact(
                key="ship-orders-plan",
                table=plan.plan.table() or [{"order_id": None, "note": "no ready orders"}],
                description=f"Dry run for store {store}: {summary['orders']} orders in {summary['parcels']} parcels "
                f"and {summary['batches']} batches. Nothing was sent.",
            )
            logger.info("dry run: %d orders in %d batches; nothing sent", summary["orders"], summary["batches"])
            record.details = {"plan": summary, "dry_run": True}
            return {"store": store, "run_id": run_id, "dry_run": True, "plan": {**summary, "table": plan.plan.table()}}
        for batch_id in plan.batch_ids:
            totals.add(submit_batch(warehouse_url, wish_block, batch_id, choices.workers, choices.max_rate))
            record.details = _details(plan, totals)
        not_shipped: dict[str, str] = {}
        if order_ids:
            # a manual run follows its own shipments only, never every other one still processing at Wish
            own = batch_shipment_ids(store, warehouse_url, plan.batch_ids) if plan.batch_ids else []
            if own:
                totals.add(follow_shipments(store, warehouse_url, wish_block, follow_seconds, choices.workers, own))
            not_shipped = explain_unshipped(store, warehouse_url, run_id, list(order_ids))
        elif follow_seconds > 0 or plan.batch_ids:
            totals.add(follow_shipments(store, warehouse_url, wish_block, follow_seconds, choices.workers))
        _report(store, plan, totals)
        record.counts = {"fetched": plan.plan.order_count}
        record.details = _details(plan, totals)
        if not_shipped:
            # the merchant asked for these orders: a run that did not ship them failed, and says why
            _report_not_shipped(not_shipped)
            record.details["not_shipped"] = not_shipped
            raise OrdersNotShipped(store, not_shipped)
    return {"store": store, "run_id": run_id, **_details(plan, totals)}


def _details(plan: PlanResult | None, totals: SubmitReport) -> dict[str, Any]:
    """The run's outcome as JSON: the plan's summary, the outbox counts, failures and conflicts."""
    return {
        "plan": plan.to_json() if plan else {},
        **totals.counts(),
        "failures": dict(totals.failures),
        "conflicts": dict(totals.conflicts),
    }


def _report_not_shipped(not_shipped: dict[str, str]) -> None:
    create_table_artifact(
        key="ship-orders-not-shipped",
        table=[{"order_id": oid, "not shipped because": why} for oid, why in not_shipped.items()],
        description="Orders this run was asked to ship and did not, with the reason for each.",
    )
    get_run_logger().error("%d requested orders not shipped: %s", len(not_shipped), not_shipped)


def _report(store: str, plan: PlanResult, totals: SubmitReport) -> None:
    logger = get_run_logger()
    create_table_artifact(
        key="ship-orders-summary",
        table=[{"store": store, "planned": plan.planned, **totals.counts()}],
        description=f"Shipping run for store {store}: outbox outcomes.",
    )
    if totals.conflicts:
        lines = [f"- order `{oid}`: {why}" for oid, why in totals.conflicts.items()]
        create_markdown_artifact(
            key="ship-orders-conflicts",
            markdown="## Tracking conflicts: nothing was overwritten\n\nThese orders carry a tracking number "
            "Wishflow did not send. Check them in Wish, then resolve with `wishflow ship resolve`.\n\n"
            + "\n".join(lines),
            description="Orders whose tracking on Wish differs from ours",
        )
        logger.error("%d tracking conflicts (not overwritten): %s", len(lines), ", ".join(totals.conflicts))
    if totals.failures:
        logger.warning("%d shipments failed: %s", len(totals.failures), totals.failures)
    if plan.unlabelled:
        logger.warning("orders left without a valid tracking number: %s", plan.unlabelled)
    logger.info(
        "store %s: %d planned, %d sent, %d confirmed, %d submitted (processing), %d failed, %d conflicts",
        store,
        plan.planned,
        totals.sent,
        totals.confirmed,
        totals.submitted,
        totals.failed,
        totals.conflict,
    )


@flow(name="modify_tracking", log_prints=False, validate_parameters=True)
def modify_tracking(
    order_id: str,
    tracking_number: str,
    carrier: str,
    store: str = DEFAULT_STORE,
    origin_country: str | None = None,
    ship_note: str | None = None,
    follow_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
) -> dict[str, Any]:
    """Replace the tracking number of an order already shipped.

    Args:
        order_id: A shipped order whose tracking number must change.
        tracking_number: The new tracking number (letters and digits).
        carrier: Carrier of the new number (a Wish shipping_provider name).
        store: Store name, as recorded in the warehouse.
        origin_country: ISO-2 origin (default: the current tracking's origin).
        ship_note: Optional note sent with the tracking.
        follow_seconds: How long to follow processing.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
    """
    warehouse_url = resolve_warehouse_url(warehouse_block)
    result = modify_tracking_task(
        store,
        warehouse_url,
        wish_block,
        order_id,
        tracking_number,
        carrier,
        origin_country,
        ship_note,
        follow_seconds,
        current_run_id(),
    )
    get_run_logger().info("modify tracking of %s: %s (%s)", order_id, result.state, result.detail)
    return asdict(result)


@flow(name="change_address", log_prints=False, validate_parameters=True)
def change_address(
    order_id: str,
    address: dict[str, Any],
    store: str = DEFAULT_STORE,
    follow_seconds: Annotated[float, Field(ge=0, le=3600)] = 30.0,
    wish_block: str | None = None,
    warehouse_block: str | None = None,
) -> dict[str, Any]:
    """Change the shipping address of an order before it ships.

    Args:
        order_id: An approved order not yet shipped.
        address: New address fields: name, street_address1..3, city, state, zipcode, country_code, ...
        store: Store name, as recorded in the warehouse.
        follow_seconds: How long to follow processing.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
    """
    warehouse_url = resolve_warehouse_url(warehouse_block)
    result = change_address_task(
        store, warehouse_url, wish_block, order_id, dict(address), follow_seconds, current_run_id()
    )
    get_run_logger().info("change address of %s: %s (%s)", order_id, result.state, result.detail)
    return asdict(result)
