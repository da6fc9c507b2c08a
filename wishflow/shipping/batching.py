"""From ready orders to a shipment plan.

Decide each order's carrier (policy), combine orders to the same recipient into one parcel where Wish allows it, choose
the package, and group parcels into batches by origin, carrier and service, in deadline order, with a size limit.

Wish lets several orders share one tracking number only when the recipient name and address match and
they were released at most 5 days apart. The rule is pairwise, so a combined parcel never spans more
than 5 days of releases: every pair of its orders then satisfies it. Names and addresses are compared
ignoring case and spacing; exactly 5 days apart is allowed.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from wishflow.shipping.model import ShipOrder
from wishflow.shipping.packages import NoPackageFits, SkuTable, choose_parcel, items_weight
from wishflow.shipping.policy import (
    CarrierCheck,
    CarrierNotAccepted,
    CarrierProblem,
    Decision,
    PolicyError,
    ShippingPolicy,
)

#: Wish's limit between the releases of orders sharing a tracking number.
COMBINE_WINDOW = timedelta(days=5)


def can_share_tracking(a: ShipOrder, b: ShipOrder, window: timedelta = COMBINE_WINDOW) -> bool:
    """Wish's rule for one pair: same recipient (ignoring case and spacing), released <= 5 days apart."""
    if a.released_at is None or b.released_at is None:
        return False
    return a.recipient_key() == b.recipient_key() and abs(a.released_at - b.released_at) <= window


def combine_orders(orders: Sequence[ShipOrder], window: timedelta = COMBINE_WINDOW) -> list[list[ShipOrder]]:
    """Split orders (already known to ship the same way) into parcels.

    Same recipient, and releases spanning at most ``window`` so that every pair satisfies the rule. Oldest release
    first.
    """
    by_recipient: dict[tuple[str, ...], list[ShipOrder]] = defaultdict(list)
    alone: list[list[ShipOrder]] = []
    for order in orders:
        if order.released_at is None:
            alone.append([order])
        else:
            by_recipient[order.recipient_key()].append(order)
    groups: list[list[ShipOrder]] = []
    for same in by_recipient.values():
        same.sort(key=lambda o: (o.released_at, o.order_id))
        current: list[ShipOrder] = []
        for order in same:
            if current and all(can_share_tracking(o, order, window) for o in current):
                current.append(order)
            else:
                if current:
                    groups.append(current)
                current = [order]
        if current:
            groups.append(current)
    return groups + alone


def _deadline_key(value: datetime | None) -> tuple[int, Any]:
    return (0, value) if value is not None else (1, 0)


@dataclass
class PlannedParcel:
    """One parcel: one or more orders sharing a tracking number, carrier and package."""

    parcel_id: str
    orders: list[ShipOrder]
    decision: Decision
    package: str
    weight_grams: int
    estimated_weight: bool
    tracking_number: str | None = None
    #: what the label cost, when the label source reports it (recorded on the parcel's first shipment)
    label_cost: Decimal | None = None
    label_cost_currency: str | None = None

    @property
    def deadline(self) -> datetime | None:
        """Earliest ship-by time among the parcel's orders: the parcel is late when its first order is."""
        known = [o.expected_ship_time for o in self.orders if o.expected_ship_time is not None]
        return min(known) if known else None

    @property
    def order_ids(self) -> list[str]:
        """The parcel's order ids, in the parcel's order (oldest release first)."""
        return [o.order_id for o in self.orders]


@dataclass
class PlannedBatch:
    """Parcels that leave together: one origin, carrier and service, at most the policy's batch size."""

    batch_id: str
    origin_country: str
    carrier: str
    service: str
    parcels: list[PlannedParcel] = field(default_factory=list)

    @property
    def order_count(self) -> int:
        """Orders in the batch; a combined parcel counts each of its orders."""
        return sum(len(p.orders) for p in self.parcels)

    @property
    def earliest_deadline(self) -> datetime | None:
        """Earliest parcel deadline, by which batches are ordered so the most urgent ships first."""
        known = [p.deadline for p in self.parcels if p.deadline is not None]
        return min(known) if known else None


@dataclass
class ShipmentPlan:
    """A run's plan: the batches to ship and, per order id, why an order was left out."""

    batches: list[PlannedBatch]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def parcels(self) -> list[PlannedParcel]:
        """Every planned parcel, batch by batch."""
        return [p for b in self.batches for p in b.parcels]

    @property
    def order_count(self) -> int:
        """Orders in the plan across all batches."""
        return sum(b.order_count for b in self.batches)

    def table(self) -> list[dict[str, Any]]:
        """One row per order, for a Prefect table artifact (dry run) or the CLI."""
        rows = []
        for batch in self.batches:
            for parcel in batch.parcels:
                for order in parcel.orders:
                    rows.append(
                        {
                            "batch": batch.batch_id[:8],
                            "order_id": order.order_id,
                            "parcel": parcel.parcel_id[:8],
                            "combined_with": len(parcel.orders) - 1,
                            "carrier": parcel.decision.carrier,
                            "service": parcel.decision.service,
                            "origin": parcel.decision.origin_country,
                            "package": parcel.package,
                            "weight_g": parcel.weight_grams,
                            "rule": parcel.decision.rule,
                            "destination": order.country_code,
                            "ship_by": order.expected_ship_time.isoformat() if order.expected_ship_time else None,
                            "tracking_number": parcel.tracking_number,
                        }
                    )
        return rows


def plan_shipments(
    orders: Sequence[ShipOrder],
    policy: ShippingPolicy,
    skus: SkuTable | None = None,
    *,
    carriers: CarrierCheck | None = None,
    carrier: str | None = None,
    package: str | None = None,
    max_batch_size: int | None = None,
    combine: bool | None = None,
) -> ShipmentPlan:
    """Decide, combine, package and batch. ``carrier``/``package`` override the policy for every order.

    With ``carriers`` given, every decision is checked against Wish's accepted carriers and
    :class:`CarrierNotAccepted` is raised, naming each rule, carrier and destination at fault, before
    anything can be submitted (the orders stay ready).
    """
    skus = skus or SkuTable()
    size = max_batch_size or policy.max_batch_size
    if size < 1:
        raise PolicyError("max_batch_size must be at least 1")
    do_combine = policy.combine if combine is None else combine
    if package and package not in policy.presets:
        raise PolicyError(f"unknown package preset {package!r} (known: {sorted(policy.presets)})")
    decided: dict[tuple[str, str, str, str | None], list[ShipOrder]] = defaultdict(list)
    decisions: dict[str, Decision] = {}
    problems: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for order in orders:
        info = skus.get(order.sku)
        weight = items_weight([(info, order.quantity)])
        decision = policy.resolve(order, weight, info.tags)
        if carrier:
            decision = replace(decision, carrier=carrier, rule="override")
        if package:
            decision = replace(decision, package=package)
        if carriers is not None:
            canonical = carriers.canonical(decision.carrier, order)
            if canonical is None:
                problems[(decision.rule, decision.carrier, order.country_code, order.wish_order_type)].append(
                    order.order_id
                )
                continue
            decision = replace(decision, carrier=canonical)
        decisions[order.order_id] = decision
        key = (decision.origin_country, decision.carrier, decision.service, decision.package)
        decided[key].append(order)
    if problems:
        raise CarrierNotAccepted(
            CarrierProblem(rule, name, country, program, tuple(ids))
            for (rule, name, country, program), ids in problems.items()
        )
    parcels: list[PlannedParcel] = []
    skipped: dict[str, str] = {}
    for _key, group in decided.items():
        parts = combine_orders(group) if do_combine else [[o] for o in group]
        while parts:
            part = parts.pop(0)
            decision = decisions[part[0].order_id]
            items = [(skus.get(o.sku), o.quantity) for o in part]
            try:
                box = choose_parcel(items, policy.presets, decision.package, preferred_must_fit=package is None)
            except NoPackageFits as exc:  # never into a box it does not fit: alone, or not at all
                if len(part) > 1:
                    parts[:0] = [[o] for o in part]
                else:
                    skipped[part[0].order_id] = str(exc)
                continue
            parcels.append(
                PlannedParcel(
                    parcel_id=uuid.uuid4().hex,
                    orders=part,
                    decision=decision,
                    package=box.package,
                    weight_grams=box.weight_grams,
                    estimated_weight=box.estimated,
                )
            )
    parcels.sort(key=lambda p: (_deadline_key(p.deadline), p.order_ids[0]))
    lanes: dict[tuple[str, str, str], list[PlannedParcel]] = defaultdict(list)
    for parcel in parcels:
        d = parcel.decision
        lanes[(d.origin_country, d.carrier, d.service)].append(parcel)
    batches: list[PlannedBatch] = []
    for (origin, name, service), lane in lanes.items():
        batch: PlannedBatch | None = None
        for parcel in lane:
            if batch is None or (batch.order_count + len(parcel.orders) > size and batch.parcels):
                batch = PlannedBatch(uuid.uuid4().hex, origin, name, service)
                batches.append(batch)
            batch.parcels.append(parcel)
    batches.sort(key=lambda b: _deadline_key(b.earliest_deadline))  # stable: a lane keeps its order
    return ShipmentPlan(batches, skipped)
