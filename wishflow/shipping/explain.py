"""Why a requested order was not shipped: one plain reason per order, for the merchant.

A ship run given order ids (``wishflow ship run --order ...`` or the UI's form) must say, for each
order it did not ship, what stands in the way, so the merchant knows what to do next: pull it, fix
the address validation flagged, wait for the shipment already in flight, nothing (it is shipped). The
reasons are read from the warehouse after the run, so they describe the state the run left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, and_, bindparam, select

from wishflow.warehouse.schema import orders
from wishflow.warehouse.shipping_schema import address_changes, shipments
from wishflow.warehouse.validation_schema import (
    order_validation_failures,
    order_validation_queue,
    order_validations,
)

#: shipments states of a ship row that mean the order is shipped, or being shipped, by us
_DONE = "confirmed"


class OrdersNotShipped(RuntimeError):  # noqa: N818 - reads as what happened, like Prefect's own
    """A ship run was given orders it did not ship; ``reasons`` maps each such order to why."""

    def __init__(self, store: str, reasons: Mapping[str, str]) -> None:
        """Keep the reasons per order, and list the first 20 of them in the message."""
        self.store = store
        self.reasons = dict(reasons)
        listed = "; ".join(f"{oid}: {why}" for oid, why in list(self.reasons.items())[:20])
        more = f" (and {len(self.reasons) - 20} more)" if len(self.reasons) > 20 else ""
        super().__init__(f"{len(self.reasons)} requested order(s) of store {store} not shipped: {listed}{more}")

    def __reduce__(self) -> tuple[type[OrdersNotShipped], tuple[str, dict[str, str]]]:
        """Pickle by the constructor's arguments, so the error survives crossing a process (Prefect results)."""
        return (OrdersNotShipped, (self.store, self.reasons))


def shipped_by_run(engine: Engine, store: str, run_id: str, order_ids: Sequence[str]) -> set[str]:
    """Of ``order_ids``, those with a ship row this run planned (sent, processing or confirmed)."""
    if not order_ids:
        return set()
    from wishflow.warehouse.shipping_schema import shipment_batches

    stmt = (
        select(shipments.c.order_id)
        .join(shipment_batches, shipment_batches.c.batch_id == shipments.c.batch_id)
        .where(
            shipments.c.store == store,
            shipments.c.kind == "ship",
            shipment_batches.c.run_id == run_id,
            shipments.c.state.in_(("submitted", "confirmed")),
            shipments.c.order_id.in_(bindparam("ids", expanding=True)),
        )
    )
    with engine.connect() as conn:
        return {r.order_id for r in conn.execute(stmt, {"ids": list(order_ids)})}


def run_shipment_ids(engine: Engine, store: str, batch_ids: Sequence[str]) -> list[str]:
    """The outbox rows of the given batches (what a manual run follows, and nothing else)."""
    if not batch_ids:
        return []
    stmt = select(shipments.c.shipment_id).where(
        shipments.c.store == store, shipments.c.batch_id.in_(bindparam("ids", expanding=True))
    )
    with engine.connect() as conn:
        return [r.shipment_id for r in conn.execute(stmt, {"ids": list(batch_ids)})]


def why_not_shipped(engine: Engine, store: str, order_ids: Sequence[str]) -> dict[str, str]:
    """For each of ``order_ids``, the reason the order is not (or not newly) shipped, most decisive first.

    Unknown order (or another store's), already shipped, in flight, not approved, waiting for validation, quarantined
    (with the failed rules), an address change pending. An order with none of these is ready; its reason says to look at
    the run's failures.
    """
    ids = list(dict.fromkeys(order_ids))
    if not ids:
        return {}
    p = {"ids": ids}
    expanding: Any = bindparam("ids", expanding=True)
    with engine.connect() as conn:
        rows = {
            r.order_id: r
            for r in conn.execute(
                select(
                    orders.c.order_id, orders.c.state, orders.c.tracking_number, orders.c.tracking_cancelled_at
                ).where(orders.c.store == store, orders.c.order_id.in_(expanding)),
                p,
            )
        }
        elsewhere = {
            r.order_id: r.store
            for r in conn.execute(
                select(orders.c.order_id, orders.c.store).where(
                    orders.c.store != store, orders.c.order_id.in_(expanding)
                ),
                p,
            )
        }
        ship_rows: dict[str, list[tuple[str, str | None, str]]] = {}
        for r in conn.execute(
            select(shipments.c.order_id, shipments.c.state, shipments.c.last_error, shipments.c.tracking_number)
            .where(shipments.c.store == store, shipments.c.kind == "ship", shipments.c.order_id.in_(expanding))
            .order_by(shipments.c.updated_at),
            p,
        ):
            ship_rows.setdefault(r.order_id, []).append((r.state, r.last_error, r.tracking_number))
        queued = {
            r.order_id
            for r in conn.execute(
                select(order_validation_queue.c.order_id).where(
                    order_validation_queue.c.store == store, order_validation_queue.c.order_id.in_(expanding)
                ),
                p,
            )
        }
        verdicts = {
            r.order_id: r.status
            for r in conn.execute(
                select(order_validations.c.order_id, order_validations.c.status).where(
                    order_validations.c.store == store, order_validations.c.order_id.in_(expanding)
                ),
                p,
            )
        }
        failures: dict[str, list[str]] = {}
        for f in conn.execute(
            select(order_validation_failures.c.order_id, order_validation_failures.c.expectation).where(
                and_(
                    order_validation_failures.c.store == store,
                    order_validation_failures.c.order_id.in_(expanding),
                    order_validation_failures.c.severity == "blocking",
                    order_validation_failures.c.resolved_at.is_(None),
                )
            ),
            p,
        ):
            failures.setdefault(f.order_id, []).append(f.expectation)
        address_pending = {
            r.active_order_id
            for r in conn.execute(
                select(address_changes.c.active_order_id).where(
                    address_changes.c.store == store, address_changes.c.active_order_id.in_(expanding)
                ),
                p,
            )
        }
    reasons: dict[str, str] = {}
    for oid in ids:
        row = rows.get(oid)
        history = ship_rows.get(oid, [])
        latest = history[-1] if history else None
        if row is None:
            reasons[oid] = (
                f"not in the warehouse for store {store} (it belongs to store {elsewhere[oid]})"
                if oid in elsewhere
                else f"not in the warehouse for store {store} (check the id, or pull it first: wishflow run pull)"
            )
        elif latest and latest[0] == _DONE and row.tracking_cancelled_at is None:
            reasons[oid] = f"already shipped (tracking {latest[2]})"
        elif latest and latest[0] in ("planned", "submitting", "submitted"):
            reasons[oid] = f"a shipment is already in flight ({latest[0]}, tracking {latest[2]})"
        elif latest and latest[0] in ("failed", "conflict"):
            reasons[oid] = f"its shipment {latest[0]}: {(latest[1] or 'no detail')[:200]}"
        elif row.state != "APPROVED":
            shipped = f", tracking {row.tracking_number}" if row.tracking_number else ""
            reasons[oid] = f"order is {row.state} at Wish{shipped} (only APPROVED orders ship)"
        elif row.tracking_number and row.tracking_cancelled_at is None:
            reasons[oid] = f"already has tracking {row.tracking_number} at Wish"
        elif oid in queued:
            reasons[oid] = "not validated yet (run: wishflow run validate)"
        elif verdicts.get(oid) == "invalid" or oid in failures:
            rules = ", ".join(sorted(failures.get(oid, []))) or "blocking rules"
            reasons[oid] = f"quarantined by validation ({rules}); see: wishflow orders --quarantined"
        elif oid in address_pending:
            reasons[oid] = "an address change is in progress"
        elif oid not in verdicts:
            reasons[oid] = "never validated (run: wishflow run validate)"
        else:
            reasons[oid] = "ready, but this run did not ship it (see the run's failures and unlabelled orders)"
    return reasons
