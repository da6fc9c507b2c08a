"""Flows of shipping: ``ship_orders`` (stage 3: submit tracking for ready orders, exactly once),
``modify_tracking`` (replace the tracking of a shipped order) and ``change_address`` (before shipment).

``ship_orders`` first settles what earlier runs left uncertain (read back, never resend blindly),
then plans the ready orders (policy, combined shipments, batches, labels, saved to the outbox before
anything is sent), submits batch by batch (one task run per batch), and follows Wish's asynchronous
processing. A dry run publishes the plan as a table artifact and sends nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.states import Cancelled
from pydantic import Field

from blocks.warehouse import resolve_warehouse_url
from flows.common import current_run_id, jsonable, overlapped_schedule
from tasks.runs import record_run_end, record_run_start
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

_COUNTS = ("sent", "submitted", "confirmed", "failed", "conflict", "pending", "requeued", "reads")


def _merge(totals: dict[str, Any], part: dict[str, Any]) -> None:
    for key in _COUNTS:
        totals[key] = totals.get(key, 0) + int(part.get(key, 0))
    totals.setdefault("failures", {}).update(part.get("failures", {}))
    totals.setdefault("conflicts", {}).update(part.get("conflicts", {}))


@flow(name="ship_orders", log_prints=False, validate_parameters=True)
def ship_orders(
    store: Annotated[str, Field(description="Store name, as recorded in the warehouse.")] = DEFAULT_STORE,
    order_ids: Annotated[
        list[str], Field(description="Orders to ship. Empty: every ready order (valid, approved), in batches.")
    ] = [],  # noqa: B006 - Prefect shows the default in the UI; it is never mutated
    carrier: Annotated[
        str | None,
        Field(
            description="Ship every selected order with this carrier (overrides the policy). Must be one Wish "
            "accepts (GET /orders/shipping_carriers); a wrong name fails at once, listing the accepted ones."
        ),
    ] = None,
    tracking_numbers: Annotated[
        dict[str, str],
        Field(description="Order id -> tracking number, for single shipments with numbers you already have."),
    ] = {},  # noqa: B006
    package: Annotated[
        str | None,
        Field(
            description="Package preset for every order (overrides the policy): envelope, small_box, medium_box, "
            "large_box or one of the policy's own; a wrong name fails at once, listing the presets."
        ),
    ] = None,
    dry_run: Annotated[
        bool, Field(description="Publish the plan as a table artifact; send nothing, buy no labels.")
    ] = False,
    follow_seconds: Annotated[
        float, Field(ge=0, le=3600, description="How long to follow Wish's processing before leaving it to later.")
    ] = 30.0,
    max_batch_size: Annotated[
        int | None, Field(ge=1, le=5000, description="Orders per batch (default: the policy's).")
    ] = None,
    wish_block: Annotated[str | None, Field(description="WishCredentials block name (else environment).")] = None,
    warehouse_block: Annotated[str | None, Field(description="Warehouse block name (else environment).")] = None,
    policy_block: Annotated[
        str | None, Field(description="ShippingPolicy block name (else WISHFLOW_SHIPPING_POLICY or the default).")
    ] = None,
) -> dict[str, Any]:
    """Ship ready orders (or the given ones) to Wish, exactly once per order.

    Args:
        store: Store name, as recorded in the warehouse.
        order_ids: Orders to ship. Empty: every ready order (valid, approved), in batches.
        carrier: Ship every selected order with this carrier (overrides the policy). Must be
            one Wish accepts; a wrong name fails at once, listing the accepted ones.
        tracking_numbers: Order id -> tracking number, for single shipments with numbers you
            already have.
        package: Package preset for every order (overrides the policy); a wrong name fails at
            once, listing the presets.
        dry_run: Publish the plan as a table artifact; send nothing, buy no labels.
        follow_seconds: How long to follow Wish's processing before leaving it to later.
        max_batch_size: Orders per batch (default: the policy's).
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
        policy_block: ShippingPolicy block name (else WISHFLOW_SHIPPING_POLICY or the default).
    """
    overlap = overlapped_schedule()
    if overlap:
        return Cancelled(message=overlap)
    logger = get_run_logger()
    run_id = current_run_id()
    warehouse_url = resolve_warehouse_url(warehouse_block)
    # the form's choices first (one clear error listing the accepted values); the run settings
    # (workers, max_rate, lease_seconds) live in the ShippingPolicy block, not on the form
    choices = check_ship_choices(wish_block, policy_block, carrier, package)
    carrier, package = choices["carrier"], choices["package"]
    workers, max_rate, lease_seconds = choices["workers"], choices["max_rate"], choices["lease_seconds"]
    parameters = jsonable(
        {
            "store": store,
            "order_ids": list(order_ids),
            "carrier": carrier,
            "tracking_numbers": dict(tracking_numbers),
            "package": package,
            "dry_run": dry_run,
            "max_batch_size": max_batch_size,
            "wish_block": wish_block,
            "warehouse_block": warehouse_block,
            "policy_block": policy_block,
        }
    )
    record_run_start(warehouse_url, run_id, store, "ship", parameters)
    totals: dict[str, Any] = {key: 0 for key in _COUNTS}
    plan: dict[str, Any] = {}
    not_shipped: dict[str, str] = {}
    try:
        if not dry_run:
            _merge(totals, reconcile_shipments(store, warehouse_url, wish_block, lease_seconds, workers))
        plan = plan_shipments(
            store,
            warehouse_url,
            wish_block,
            policy_block,
            list(order_ids),
            carrier,
            package,
            dict(tracking_numbers),
            dry_run,
            max_batch_size,
            run_id,
        )
        if dry_run:
            create_table_artifact(
                key="ship-orders-plan",
                table=plan["table"] or [{"order_id": None, "note": "no ready orders"}],
                description=f"Dry run for store {store}: {plan['orders']} orders in {plan['parcels']} parcels "
                f"and {plan['batches']} batches. Nothing was sent.",
            )
            logger.info("dry run: %d orders in %d batches; nothing sent", plan["orders"], plan["batches"])
            record_run_end(warehouse_url, run_id, "succeeded", {}, {"plan": _plan_summary(plan), "dry_run": True})
            return {"store": store, "run_id": run_id, "dry_run": True, "plan": plan}
        for batch_id in plan["batch_ids"]:
            _merge(totals, submit_batch(warehouse_url, wish_block, batch_id, workers, max_rate))
        if order_ids:
            # a manual run follows its own shipments only, never every other one still processing at Wish
            own = batch_shipment_ids(store, warehouse_url, plan["batch_ids"]) if plan["batch_ids"] else []
            if own:
                _merge(totals, follow_shipments(store, warehouse_url, wish_block, follow_seconds, workers, own))
            not_shipped = explain_unshipped(store, warehouse_url, run_id, list(order_ids))
        elif follow_seconds > 0 or plan["batch_ids"]:
            _merge(totals, follow_shipments(store, warehouse_url, wish_block, follow_seconds, workers))
    except BaseException as exc:
        record_run_end(warehouse_url, run_id, "failed", None, {"plan": _plan_summary(plan), **totals}, repr(exc))
        raise
    _report(store, plan, totals)
    details = {"plan": _plan_summary(plan), **totals}
    if not_shipped:
        # the merchant asked for these orders: a run that did not ship them failed, and says why
        _report_not_shipped(not_shipped)
        record_run_end(
            warehouse_url, run_id, "failed", {"fetched": plan.get("orders", 0)}, {**details, "not_shipped": not_shipped}
        )
        raise OrdersNotShipped(store, not_shipped)
    record_run_end(warehouse_url, run_id, "succeeded", {"fetched": plan.get("orders", 0)}, details)
    return {"store": store, "run_id": run_id, "plan": _plan_summary(plan), **totals}


def _report_not_shipped(not_shipped: dict[str, str]) -> None:
    create_table_artifact(
        key="ship-orders-not-shipped",
        table=[{"order_id": oid, "not shipped because": why} for oid, why in not_shipped.items()],
        description="Orders this run was asked to ship and did not, with the reason for each.",
    )
    get_run_logger().error("%d requested orders not shipped: %s", len(not_shipped), not_shipped)


def _plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "table"}


def _report(store: str, plan: dict[str, Any], totals: dict[str, Any]) -> None:
    logger = get_run_logger()
    create_table_artifact(
        key="ship-orders-summary",
        table=[{"store": store, "planned": plan.get("planned", 0), **{k: totals[k] for k in _COUNTS}}],
        description=f"Shipping run for store {store}: outbox outcomes.",
    )
    if totals.get("conflicts"):
        lines = [f"- order `{oid}`: {why}" for oid, why in totals["conflicts"].items()]
        create_markdown_artifact(
            key="ship-orders-conflicts",
            markdown="## Tracking conflicts: nothing was overwritten\n\nThese orders carry a tracking number "
            "Wishflow did not send. Check them in Wish, then resolve with `wishflow ship resolve`.\n\n"
            + "\n".join(lines),
            description="Orders whose tracking on Wish differs from ours",
        )
        logger.error("%d tracking conflicts (not overwritten): %s", len(lines), ", ".join(totals["conflicts"]))
    if totals.get("failures"):
        logger.warning("%d shipments failed: %s", len(totals["failures"]), totals["failures"])
    if plan.get("unlabelled"):
        logger.warning("orders left without a valid tracking number: %s", plan["unlabelled"])
    logger.info(
        "store %s: %d planned, %d sent, %d confirmed, %d submitted (processing), %d failed, %d conflicts",
        store,
        plan.get("planned", 0),
        totals["sent"],
        totals["confirmed"],
        totals["submitted"],
        totals["failed"],
        totals["conflict"],
    )


@flow(name="modify_tracking", log_prints=False, validate_parameters=True)
def modify_tracking(
    order_id: Annotated[str, Field(description="A shipped order whose tracking number must change.")],
    tracking_number: Annotated[str, Field(description="The new tracking number (letters and digits).")],
    carrier: Annotated[str, Field(description="Carrier of the new number (a Wish shipping_provider name).")],
    store: Annotated[str, Field(description="Store name, as recorded in the warehouse.")] = DEFAULT_STORE,
    origin_country: Annotated[
        str | None, Field(description="ISO-2 origin (default: the current tracking's origin).")
    ] = None,
    ship_note: Annotated[str | None, Field(description="Optional note sent with the tracking.")] = None,
    follow_seconds: Annotated[float, Field(ge=0, le=3600, description="How long to follow processing.")] = 30.0,
    wish_block: Annotated[str | None, Field(description="WishCredentials block name (else environment).")] = None,
    warehouse_block: Annotated[str | None, Field(description="Warehouse block name (else environment).")] = None,
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
    get_run_logger().info("modify tracking of %s: %s (%s)", order_id, result["state"], result["detail"])
    return result


@flow(name="change_address", log_prints=False, validate_parameters=True)
def change_address(
    order_id: Annotated[str, Field(description="An approved order not yet shipped.")],
    address: Annotated[
        dict[str, Any],
        Field(description="New address fields: name, street_address1..3, city, state, zipcode, country_code, ..."),
    ],
    store: Annotated[str, Field(description="Store name, as recorded in the warehouse.")] = DEFAULT_STORE,
    follow_seconds: Annotated[float, Field(ge=0, le=3600, description="How long to follow processing.")] = 30.0,
    wish_block: Annotated[str | None, Field(description="WishCredentials block name (else environment).")] = None,
    warehouse_block: Annotated[str | None, Field(description="Warehouse block name (else environment).")] = None,
) -> dict[str, Any]:
    """Change the shipping address of an order before it ships.

    Args:
        order_id: An approved order not yet shipped.
        address: New address fields: name, street_address1..3, city, state, zipcode, country_code,
            ...
        store: Store name, as recorded in the warehouse.
        follow_seconds: How long to follow processing.
        wish_block: WishCredentials block name (else environment).
        warehouse_block: Warehouse block name (else environment).
    """
    warehouse_url = resolve_warehouse_url(warehouse_block)
    result = change_address_task(
        store, warehouse_url, wish_block, order_id, dict(address), follow_seconds, current_run_id()
    )
    get_run_logger().info("change address of %s: %s (%s)", order_id, result["state"], result["detail"])
    return result
