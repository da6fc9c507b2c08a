"""Which orders shipping may take.

Approved, valid (never quarantined or pending validation), not shipped, and not already in the shipping outbox or in the
middle of an address change.

Validation owns the first part (``v_unprocessed_orders``, migration 0002, the same predicate as
:func:`wishflow.validation.ready_to_ship_order_ids`); this module adds the outbox's own guard, so an
order whose tracking write is in flight is never planned twice even before Wish's answer is pulled.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Engine, and_, bindparam, column, exists, func, select, table

from wishflow.shipping.model import ShipOrder
from wishflow.warehouse.schema import orders
from wishflow.warehouse.shipping_schema import address_changes, refund_requests, shipments

#: The validation stage's view of valid, open, APPROVED orders.
READY_VIEW = table("v_unprocessed_orders", column("store"), column("order_id"))

#: Fulfilled by Wish: Wish ships these from its own warehouse (the spec's ``fulfillment_order_types``
#: value FULFILLED_BY_WISH), so the merchant never marks them shipped (the sandbox refuses it, 4013).
FULFILLED_BY_WISH = "FULFILLED_BY_WISH"


def fulfilled_by_wish(order_types: ColumnElement[str | None]) -> ColumnElement[bool]:
    """Whether a comma-separated ``orders.order_types`` holds FULFILLED_BY_WISH (a whole item)."""
    padded = "," + func.coalesce(order_types, "") + ","
    return padded.like(f"%,{FULFILLED_BY_WISH},%")


def ready_orders(
    engine: Engine, store: str, order_ids: Sequence[str] | None = None, *, limit: int | None = None
) -> list[ShipOrder]:
    """Ready orders of ``store`` (only those in ``order_ids`` when given), soonest deadline first."""
    o = orders
    in_flight = exists().where(shipments.c.store == o.c.store, shipments.c.active_order_id == o.c.order_id)
    confirmed = exists().where(
        shipments.c.store == o.c.store,
        shipments.c.order_id == o.c.order_id,
        shipments.c.state == "confirmed",
        shipments.c.kind == "ship",
        o.c.tracking_cancelled_at.is_(None),
    )
    address_pending = exists().where(
        address_changes.c.store == o.c.store, address_changes.c.active_order_id == o.c.order_id
    )
    refund_pending = exists().where(  # a merchant refund in flight (wishflow/shipping/refunds.py)
        refund_requests.c.store == o.c.store, refund_requests.c.active_order_id == o.c.order_id
    )
    stmt = (
        select(o)
        .join(READY_VIEW, and_(READY_VIEW.c.store == o.c.store, READY_VIEW.c.order_id == o.c.order_id))
        .where(o.c.store == store, o.c.state == "APPROVED", ~in_flight, ~confirmed, ~address_pending, ~refund_pending)
        .where(~fulfilled_by_wish(o.c.order_types))
        .order_by(o.c.expected_ship_time.is_(None), o.c.expected_ship_time, o.c.order_id)
    )
    params = {}
    if order_ids is not None:
        stmt = stmt.where(o.c.order_id.in_(bindparam("ids", expanding=True)))
        params["ids"] = list(order_ids)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [ShipOrder.from_row(r) for r in conn.execute(stmt, params)]


def not_ready_reasons(engine: Engine, store: str, order_ids: Sequence[str]) -> dict[str, str]:
    """For requested orders that are not ready, a short reason (for the run's report)."""
    ready = {o.order_id for o in ready_orders(engine, store, order_ids)}
    missing = [oid for oid in order_ids if oid not in ready]
    if not missing:
        return {}
    reasons: dict[str, str] = {}
    with engine.connect() as conn:
        known = {
            r.order_id: r
            for r in conn.execute(
                select(orders.c.order_id, orders.c.state, orders.c.tracking_number, orders.c.order_types).where(
                    orders.c.store == store, orders.c.order_id.in_(missing)
                )
            )
        }
        flight = {
            r.active_order_id: r.state
            for r in conn.execute(
                select(shipments.c.active_order_id, shipments.c.state).where(
                    shipments.c.store == store, shipments.c.active_order_id.in_(missing)
                )
            )
        }
    for oid in missing:
        row = known.get(oid)
        if row is None:
            reasons[oid] = "not in the warehouse (pull it first)"
        elif oid in flight:
            reasons[oid] = f"already in the shipping outbox ({flight[oid]})"
        elif FULFILLED_BY_WISH in (row.order_types or "").split(","):
            reasons[oid] = "fulfilled by Wish (FBW): Wish ships it, not the merchant"
        elif row.state != "APPROVED":
            reasons[oid] = f"order is {row.state}"
        elif row.tracking_number:
            reasons[oid] = f"already has tracking {row.tracking_number}"
        else:
            reasons[oid] = "not validated, quarantined, or being changed"
    return reasons
