"""Shipping operations as plain functions (the Prefect tasks and the benchmark call these).

- :func:`plan_and_save`: ready orders -> decided, combined, packaged, batched, labelled -> outbox.
- :func:`modify_tracking`: replace the tracking number of a shipped order, with the same guarantees.
- :func:`change_address`: change the shipping address before shipment, with the same guarantees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from wishflow.api.contract import WishApi
from wishflow.shipping import outbox
from wishflow.shipping.batching import ShipmentPlan, plan_shipments
from wishflow.shipping.labels import (
    Label,
    LabelProvider,
    ManualLabels,
    assign_numbers,
    check_tracking_number,
    record_label_costs,
)
from wishflow.shipping.model import normalise
from wishflow.shipping.order_writes import OrderWriteKind, WriteMachine
from wishflow.shipping.outbox import State
from wishflow.shipping.packages import SkuTable
from wishflow.shipping.policy import CarrierCheck, ShippingPolicy
from wishflow.shipping.ready import not_ready_reasons, ready_orders
from wishflow.shipping.submit import SubmitReport, Submitter
from wishflow.warehouse.shipping_schema import shipments


class ShippingError(RuntimeError):
    """A shipping request that cannot be carried out as asked (nothing was sent)."""


@dataclass
class PlanResult:
    """What planning did: the plan, the batches saved, the rows planned, the orders not ready and why."""

    plan: ShipmentPlan
    batch_ids: list[str] = field(default_factory=list)
    planned: int = 0
    not_ready: dict[str, str] = field(default_factory=dict)
    unlabelled: dict[str, str] = field(default_factory=dict)
    already_in_flight: list[str] = field(default_factory=list)
    carrier_lookups: int = 0
    #: orders no package holds, quarantined by this run (rule parcel_fits_package)
    held: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON for the CLI and run artifacts."""
        return {
            "batch_ids": self.batch_ids,
            "planned": self.planned,
            "orders": self.plan.order_count,
            "parcels": len(self.plan.parcels),
            "batches": len(self.plan.batches),
            "not_ready": self.not_ready,
            "unlabelled": self.unlabelled,
            "already_in_flight": self.already_in_flight,
            "carrier_lookups": self.carrier_lookups,
            "no_package_fits": self.plan.skipped,
            "quarantined_no_package": self.held,
        }


@dataclass(frozen=True)
class ShipRequest:
    """What a ship run asks for (the ship form): which orders, overrides, and whether to send.

    Empty ``order_ids``: every ready order. ``tracking_numbers`` (order id -> number) ships those
    orders singly with numbers the merchant already has.
    """

    order_ids: tuple[str, ...] = ()
    carrier: str | None = None
    package: str | None = None
    tracking_numbers: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False
    max_batch_size: int | None = None


def plan_and_save(
    engine: Engine,
    client: WishApi,
    store: str,
    policy: ShippingPolicy,
    *,
    skus: SkuTable | None = None,
    order_ids: Sequence[str] | None = None,
    carrier: str | None = None,
    package: str | None = None,
    tracking_numbers: Mapping[str, str | Label] | None = None,
    labels: LabelProvider | None = None,
    dry_run: bool = False,
    check_carriers: bool = True,
    max_batch_size: int | None = None,
    run_id: str | None = None,
) -> PlanResult:
    """Plan the ready orders (all, or ``order_ids``) and, unless ``dry_run``, label and save them.

    The plan goes to the outbox. A full run (no ``order_ids``) also returns the batches earlier runs left
    planned, so they are resumed. With ``tracking_numbers`` (order id -> number) the orders ship singly with
    those numbers. Raises :class:`~wishflow.shipping.policy.CarrierNotAccepted` before anything is
    saved when a decision names a carrier Wish does not accept (the orders stay ready).

    A dry run reads (the ready orders, Wish's accepted carriers) but writes nothing and buys no label.
    """
    if tracking_numbers:
        order_ids = list(order_ids or tracking_numbers)
        missing = [o for o in order_ids if o not in tracking_numbers]
        if missing:
            raise ShippingError(f"tracking_numbers lacks numbers for orders {missing[:5]}")
    wanted = list(order_ids) if order_ids else None
    orders = ready_orders(engine, store, wanted)
    result_not_ready = not_ready_reasons(engine, store, wanted) if wanted else {}
    check = CarrierCheck(lambda t, d: client.shipping_carriers(t, d)) if check_carriers else None
    plan = plan_shipments(
        orders,
        policy,
        skus or SkuTable.load(engine, store),
        carriers=check,
        carrier=carrier,
        package=package,
        max_batch_size=max_batch_size,
        combine=False if tracking_numbers else None,
    )
    result = PlanResult(plan, not_ready=result_not_ready, carrier_lookups=check.lookups if check else 0)
    if dry_run:
        return result
    if plan.skipped:
        # an order no package holds is quarantined once, with what it needs (never skipped on every run)
        from wishflow.validation.holds import hold_orders

        result.held = hold_orders(engine, store, plan.skipped, run_id=run_id)
    if not plan.batches:
        result.batch_ids = [] if wanted else outbox.pending_batches(engine, store)
        return result
    provider: LabelProvider | None = ManualLabels(tracking_numbers) if tracking_numbers else labels
    if provider is None:
        raise ShippingError("no label provider: give tracking numbers or configure one")
    result.unlabelled = assign_numbers(plan.parcels, provider, require_all=False)
    for batch in plan.batches:
        batch.parcels = [p for p in batch.parcels if p.tracking_number]
    plan.batches = [b for b in plan.batches if b.parcels]
    saved = outbox.save_plan(engine, store, plan, run_id=run_id)
    record_label_costs(engine, store, plan.parcels)
    result.batch_ids = saved.batch_ids
    if not wanted:
        # a full run also resumes batches earlier runs planned but never sent (they hold their orders)
        result.batch_ids += [b for b in outbox.pending_batches(engine, store) if b not in saved.batch_ids]
    result.planned = saved.planned
    result.already_in_flight = saved.already_in_flight
    return result


# -- modify tracking ------------------------------------------------------------------------------


@dataclass
class SingleResult:
    """How one single-order shipment ended."""

    order_id: str
    state: str
    detail: str
    tracking_number: str | None = None
    report: dict[str, int] = field(default_factory=dict)


def modify_tracking(
    engine: Engine,
    client: WishApi,
    submitter: Submitter,
    store: str,
    order_id: str,
    *,
    tracking_number: str,
    carrier: str,
    origin_country: str | None = None,
    ship_note: str | None = None,
    follow_seconds: float = 0.0,
    run_id: str | None = None,
) -> SingleResult:
    """Replace the tracking of an already shipped order, exactly once.

    Rerunning with the same number continues (or reports) the earlier request instead of sending
    again; a number on the order that is neither the one we replace nor ours is a conflict.
    """
    number = check_tracking_number(tracking_number, carrier)
    with engine.connect() as conn:
        existing = conn.execute(
            select(shipments.c.shipment_id, shipments.c.state, shipments.c.tracking_number, shipments.c.active_order_id)
            .where(shipments.c.store == store, shipments.c.order_id == order_id)
            .order_by(shipments.c.planned_at.desc())
        ).all()
    same = next((r for r in existing if r.tracking_number.upper() == number.upper()), None)
    holder = next((r for r in existing if r.active_order_id is not None), None)
    if same is not None and same.state in (State.SUBMITTED, State.CONFIRMED, State.CONFLICT):
        report = submitter.follow(store, wait_seconds=follow_seconds, shipment_ids=[same.shipment_id])
        row = outbox.get_row(engine, same.shipment_id)
        return SingleResult(order_id, row.state, "already requested earlier; not sent again", number, report.counts())
    if holder is not None and (same is None or holder.shipment_id != same.shipment_id):
        # settle the earlier write first (follow it, or read it back), then look again
        submitter.reconcile(store, shipment_ids=[holder.shipment_id])
        submitter.follow(store, shipment_ids=[holder.shipment_id])
        if outbox.get_row(engine, holder.shipment_id).state in (State.CONFIRMED, State.FAILED):
            holder = None
    if holder is not None and (same is None or holder.shipment_id != same.shipment_id):
        raise ShippingError(
            f"order {order_id} has a tracking write in flight or in conflict ({holder.state}, "
            f"{holder.tracking_number}); settle it first"
        )
    if same is None:
        order = client.get_order(order_id)
        numbers = outbox.tracking_numbers(order)
        if order.get("state") != "SHIPPED" or not numbers:
            raise ShippingError(f"order {order_id} is {order.get('state')} without tracking: ship it instead")
        if numbers[0].upper() == number.upper():
            return SingleResult(order_id, "confirmed", "the order already carries this number", number)
        current = (order.get("tracking_information") or [{}])[0]
        origin = origin_country or current.get("origin_country")
        if not origin:
            raise ShippingError("origin_country is required (the order's current tracking has none)")
        new_row = outbox.plan_single(
            engine,
            store,
            order_id,
            kind="modify",
            carrier=carrier,
            origin_country=str(origin).upper(),
            tracking_number=number,
            previous_tracking_number=numbers[0],
            ship_note=ship_note,
            run_id=run_id,
        )
        if new_row is None:
            raise ShippingError(f"order {order_id} was claimed by another run meanwhile")
        shipment_id = new_row.shipment_id
    else:
        shipment_id = same.shipment_id
    report = SubmitReport()
    report.add(submitter.reconcile(store, shipment_ids=[shipment_id], lease=timedelta(0)))
    report.add(submitter.submit_rows(store, [shipment_id]))
    report.add(submitter.follow(store, wait_seconds=follow_seconds, shipment_ids=[shipment_id]))
    row = outbox.get_row(engine, shipment_id)
    detail = report.failures.get(order_id) or report.conflicts.get(order_id) or row.state
    return SingleResult(order_id, row.state, detail, number, report.counts())


# -- change address -------------------------------------------------------------------------------

ADDRESS_FIELDS = (
    "name",
    "street_address1",
    "street_address2",
    "street_address3",
    "city",
    "state",
    "zipcode",
    "country",
    "country_code",
    "region",
    "phone_number",
)


def _address_matches(wanted: Mapping[str, Any], detail: Mapping[str, Any]) -> bool:
    for key, value in wanted.items():
        if isinstance(value, Mapping):
            sub = detail.get(key) if isinstance(detail.get(key), Mapping) else {}
            if not _address_matches(value, sub):  # type: ignore[arg-type]
                return False
        elif normalise(str(value)) != normalise(str(detail.get(key) or "")):
            return False
    return True


def _shipping_detail(order: Mapping[str, Any]) -> dict[str, Any]:
    return dict((order.get("full_address") or {}).get("shipping_detail") or {})


class AddressKind(OrderWriteKind):
    """``PUT /orders/{id}/address`` as a kind of the one write path (:mod:`wishflow.shipping.order_writes`).

    Ours landed when the order's shipping detail matches the address we sent; an address that is
    neither ours nor the one read before the change is a conflict; the change is possible only while
    the order is APPROVED without tracking.
    """

    name = "address"
    source = "MODIFY_SHIPPING"
    ledger = outbox.ADDRESS_CHANGES

    def send(self, client: WishApi, row: Any) -> Any:
        """Ask Wish to change the order's shipping address to the row's."""
        return client.modify_address(row.order_id, dict(row.address))

    def landed(self, row: Any, order: dict[str, Any]) -> bool:
        """The order's address is ours, field by field, ignoring case and spacing."""
        return _address_matches(dict(row.address), _shipping_detail(order))

    def conflict(self, row: Any, order: dict[str, Any]) -> str | None:
        """The order has an address that is neither the one we replace nor ours: someone else changed it."""
        previous = row.previous_address
        if previous and not _address_matches(previous, _shipping_detail(order)):
            return "the order has an address that is neither the old one nor ours"
        return None

    def still_possible(self, row: Any, order: dict[str, Any]) -> bool:  # noqa: ARG002 (WriteKind protocol signature)
        """Wish changes the address of an approved order not yet shipped only."""
        return order.get("state") == "APPROVED" and not outbox.tracking_numbers(order)


ADDRESS = AddressKind()


def plan_address_change(
    engine: Engine, client: WishApi, store: str, order_id: str, address: Mapping[str, Any], *, run_id: str | None = None
) -> tuple[str | None, SingleResult | None]:
    """Write the change down (``planned``) before anything is sent, or find the one already in flight.

    Returns (change id, None), or (None, result) when there is nothing to send.
    """
    unknown = set(address) - set(ADDRESS_FIELDS)
    if unknown:
        raise ShippingError(f"unknown address fields {sorted(unknown)} (known: {list(ADDRESS_FIELDS)})")
    wanted = {k: v for k, v in address.items() if v not in (None, "")}
    held = outbox.holder(engine, outbox.SHIPMENTS, store, order_id)
    current = outbox.holder(engine, outbox.ADDRESS_CHANGES, store, order_id)
    if held is not None:
        raise ShippingError(
            f"order {order_id} is in the shipping outbox ({held.state}); too late to change its address"
        )
    if current is not None:
        if not _address_matches(wanted, current.address):
            raise ShippingError(f"order {order_id} has another address change in flight ({current.state})")
        return str(current.change_id), None
    order = client.get_order(order_id)
    if order.get("state") != "APPROVED" or outbox.tracking_numbers(order):
        raise ShippingError(f"order {order_id} is {order.get('state')} (or has tracking): address can't change")
    if _address_matches(wanted, _shipping_detail(order)):
        return None, SingleResult(order_id, "confirmed", "the order already has this address")
    # Wish wants the whole address: the current one with the requested fields changed
    full = {k: v for k, v in _shipping_detail(order).items() if k in ADDRESS_FIELDS and v not in (None, "")}
    full.update(wanted)
    values = {
        "store": store,
        "order_id": order_id,
        "address": full,
        "previous_address": _shipping_detail(order),
        "run_id": run_id,
    }
    change_id = outbox.insert_planned(engine, outbox.ADDRESS_CHANGES, values)
    if change_id is None:
        raise ShippingError(f"order {order_id} got an address change from another run meanwhile")
    return change_id, None


def change_address(
    engine: Engine,
    client: WishApi,
    store: str,
    order_id: str,
    address: Mapping[str, Any],
    *,
    follow_seconds: float = 0.0,
    poll_interval: float = 1.0,
    run_id: str | None = None,
    machine: WriteMachine | None = None,
) -> SingleResult:
    """Change the shipping address of an order not yet shipped, exactly once.

    The change is written to ``address_changes`` before it is sent; while it is in flight, shipping does
    not plan the order (no label for the old address). It then goes the one write path (claim, send,
    settle, read back, judge; :class:`AddressKind`). Rerunning with the same address resumes it.
    A rate limit or a configuration error is raised as the client's exception, the row kept.
    """
    change_id, done = plan_address_change(engine, client, store, order_id, address, run_id=run_id)
    if done is not None:
        return done
    assert change_id is not None
    machine = machine or WriteMachine(engine, client, ADDRESS)
    result = machine.settle(change_id, follow_seconds=follow_seconds, poll_interval=poll_interval)
    return SingleResult(order_id, result.state, result.detail)


__all__ = [
    "ADDRESS",
    "AddressKind",
    "PlanResult",
    "ShippingError",
    "SingleResult",
    "change_address",
    "modify_tracking",
    "plan_address_change",
    "plan_and_save",
]
