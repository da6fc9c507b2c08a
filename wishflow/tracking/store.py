"""Derive ``shipment_tracking``, ``tracking_events`` and ``tracking_exceptions`` from the warehouse.

The input is what the order loader already recorded: ``orders`` (current tracking number, programs,
value, release) and ``order_events`` (every milestone ever seen). Each run re-derives the orders
that changed since their shipments were last derived, the shipments still in flight (deadlines move
with the clock, not with the data), orders with an open exception, and the orders just read from
Wish. Only rows whose content changes are written, so a rerun on the same data and clock writes
nothing (DESIGN.md §4.4).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, select, union, update

from wishflow.tracking.status import (
    EVENT_STATUS,
    FINAL_STATUSES,
    Condition,
    Evaluation,
    Segment,
    ShipmentFacts,
    Status,
    TrackingPolicy,
    delivery_deadline,
    evaluate,
    first_scan_deadline,
    poll_due,
    split_segments,
)
from wishflow.warehouse.bulk import fill_stage, stage_table, upsert_from_stage
from wishflow.warehouse.schema import order_events, orders
from wishflow.warehouse.tracking_schema import shipment_tracking, tracking_events, tracking_exceptions

DEFAULT_CHUNK = 2000
_TRACKED_COLUMNS = [c.name for c in shipment_tracking.columns if c.name != "_loaded_at"]
_ORDER_COLUMNS = (
    orders.c.order_id,
    orders.c.order_types,
    orders.c.state,
    orders.c.updated_at,
    orders.c.released_at,
    orders.c.expected_delivery_time,
    orders.c.is_wish_express,
    orders.c.is_confirmed_delivery,
    orders.c.payment_total,
    orders.c.product_price,
    orders.c.quantity,
    orders.c.tracking_number,
    orders.c.shipping_provider,
    orders.c.origin_country,
)


def order_value(payment_total: Decimal | None, product_price: Decimal | None, quantity: int | None) -> Decimal | None:
    """The order's value for the first-scan rule: what the customer paid, else price x quantity."""
    if payment_total is not None:
        return payment_total
    if product_price is not None:
        return product_price * (quantity or 1)
    return None


@dataclass
class ExceptionChange:
    """An exception opened, escalated or resolved by a run (for the digest)."""

    order_id: str
    tracking_number: str
    exception_type: str
    severity: str
    change: str  # opened, escalated, resolved
    deadline_at: datetime | None
    details: str

    def to_json(self) -> dict[str, Any]:
        """The change as JSON-ready values, for the digest."""
        return {
            "order_id": self.order_id,
            "tracking_number": self.tracking_number,
            "exception_type": self.exception_type,
            "severity": self.severity,
            "change": self.change,
            "deadline_at": self.deadline_at.isoformat() if self.deadline_at else None,
            "details": self.details,
        }


@dataclass
class TrackingUpdate:
    """What one derivation run changed."""

    orders_derived: int = 0
    shipments_written: int = 0
    events_new: int = 0
    polled: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    changes: list[ExceptionChange] = field(default_factory=list)
    voided: list[tuple[str, str]] = field(default_factory=list)  # (order_id, tracking_number)

    def count(self, change: str) -> int:
        """How many exceptions of the run had ``change`` (opened, escalated or resolved)."""
        return sum(1 for c in self.changes if c.change == change)

    def to_json(self) -> dict[str, Any]:
        """The run's counts and changes as JSON-ready values, for the flow's result and the digest."""
        return {
            "orders_derived": self.orders_derived,
            "shipments_written": self.shipments_written,
            "events_new": self.events_new,
            "polled": self.polled,
            "statuses": self.statuses,
            "exceptions_opened": self.count("opened"),
            "exceptions_escalated": self.count("escalated"),
            "exceptions_resolved": self.count("resolved"),
            "changes": [c.to_json() for c in self.changes],
            "voided": [list(v) for v in self.voided],
        }


# -- candidates ---------------------------------------------------------------------------------


def orders_to_derive(conn: Connection, store: str, extra_ids: Iterable[str] = ()) -> list[str]:
    """Orders whose tracking must be derived now, sorted.

    Changed since last derived (or never derived) and ever shipped; with a shipment still in flight;
    with an open exception; plus ``extra_ids`` (just read from Wish).
    """
    st = shipment_tracking
    changed = select(orders.c.order_id).where(
        orders.c.store == store,
        orders.c.shipped_at.is_not(None),
        ~exists().where(
            st.c.store == orders.c.store,
            st.c.order_id == orders.c.order_id,
            st.c.order_updated_at >= orders.c.updated_at,
        ),
    )
    active = select(st.c.order_id).where(
        st.c.store == store,
        st.c.order_state == "SHIPPED",
        st.c.status.not_in([s.value for s in FINAL_STATUSES]),
    )
    open_exceptions = select(tracking_exceptions.c.order_id).where(
        tracking_exceptions.c.store == store, tracking_exceptions.c.resolved_at.is_(None)
    )
    ids = set(conn.execute(union(changed, active, open_exceptions)).scalars())
    ids.update(extra_ids)
    return sorted(ids)


# -- facts ----------------------------------------------------------------------------------------


def _release_for(segment: Segment, released_at: datetime | None, re_releases: list[datetime]) -> datetime | None:
    """Deadlines start at release; a shipment after a re-release starts from that re-release."""
    earlier = [t for t in re_releases if t <= segment.shipped_at]
    return max(earlier) if earlier else released_at


def shipment_facts(
    order: Mapping[str, Any],
    milestones: Sequence[tuple[str, datetime]],
    known: Sequence[Mapping[str, Any]],
    fallback_numbers: Sequence[str] = (),
) -> list[ShipmentFacts]:
    """Every shipment of one order: one per shipment segment, plus numbers the merchant replaced.

    ``known`` are the order's existing ``shipment_tracking`` rows (they remember a number after Wish
    drops it, e.g. on cancellation); ``fallback_numbers`` are numbers the shipping outbox sent, used
    when a cancelled number was never seen by tracking.
    """
    segments = split_segments(list(milestones))
    if not segments:
        return []
    re_releases = [t for kind, t in milestones if kind == "ORDER_RE_RELEASED"]
    by_shipped: dict[datetime, list[Mapping[str, Any]]] = defaultdict(list)
    for row in known:
        if row["shipped_at"] is not None:
            by_shipped[row["shipped_at"]].append(row)
    value = order_value(order["payment_total"], order["product_price"], order["quantity"])
    used: set[str] = set()
    out: list[ShipmentFacts] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        rows = by_shipped.get(segment.shipped_at, [])
        current_number = order["tracking_number"] if last and segment.cancelled_at is None else None
        if current_number:
            primary = current_number
        else:
            live = [r for r in rows if r["is_current"] or r["status"] != Status.CANCELLED] or list(rows)
            primary = live[-1]["tracking_number"] if live else ""
            if not primary:
                primary = next((n for n in reversed(fallback_numbers) if n and n not in used), "")
        used.add(primary)
        release = _release_for(segment, order["released_at"], re_releases)
        provider = order["shipping_provider"] if current_number else None
        origin = order["origin_country"] if current_number else None
        for row in rows:
            if row["tracking_number"] == primary:
                provider = provider or row["shipping_provider"]
                origin = origin or row["origin_country"]
        common = {
            "order_id": order["order_id"],
            "order_state": order["state"],
            "is_wish_express": bool(order["is_wish_express"]),
            "is_confirmed_delivery": bool(order["is_confirmed_delivery"]),
            "released_at": release,
            "shipped_at": segment.shipped_at,
            "first_scan_at": segment.first_scan_at,
            "delivered_at": segment.delivered_at,
            "cancelled_at": segment.cancelled_at,
            "last_event_at": segment.last_event_at,
            "first_scan_due_at": first_scan_deadline(release, value),
            "delivery_due_at": delivery_deadline(
                release,
                wish_express=bool(order["is_wish_express"]),
                confirmed_delivery=bool(order["is_confirmed_delivery"]),
                expected_delivery_time=order["expected_delivery_time"] if index == 0 else None,
            ),
            "reshipped": not last,
        }
        out.append(
            ShipmentFacts(
                tracking_number=primary,
                shipping_provider=provider,
                is_current=last and segment.cancelled_at is None,
                replaced=False,
                **common,
            )
        )
        for row in rows:
            number = row["tracking_number"]
            if number != primary and number not in used:
                used.add(number)
                out.append(
                    ShipmentFacts(
                        tracking_number=number,
                        shipping_provider=row["shipping_provider"],
                        is_current=False,
                        replaced=True,
                        **common,
                    )
                )
    return out


def _segment_events(
    milestones: Sequence[tuple[str, datetime]], facts: Sequence[ShipmentFacts]
) -> list[tuple[str, datetime, str, str | None]]:
    """``(event_type, event_time, tracking_number, provider)`` of each parcel milestone."""
    primaries = [f for f in facts if not f.replaced]
    segments = split_segments(list(milestones))
    out = []
    for segment, fact in zip(segments, primaries, strict=False):
        for event_type, event_time in segment.events:
            out.append((event_type, event_time, fact.tracking_number, fact.shipping_provider))
    return out


# -- the run -------------------------------------------------------------------------------------


def _row(
    store: str,
    facts: ShipmentFacts,
    evaluation: Evaluation,
    order_updated_at: datetime,
    origin_country: str | None,
    previous: Mapping[str, Any] | None,
    polled: bool,
    now: datetime,
) -> dict[str, Any]:
    voided_at = previous["voided_at"] if previous else None
    if evaluation.status is Status.CANCELLED and voided_at is None:
        voided_at = now
    last_polled_at = previous["last_polled_at"] if previous else None
    poll_count = previous["poll_count"] if previous else 0
    if polled and facts.is_current:
        last_polled_at = now
        poll_count += 1
    return {
        "store": store,
        "order_id": facts.order_id,
        "tracking_number": facts.tracking_number,
        "shipping_provider": facts.shipping_provider,
        "status": evaluation.status.value,
        "status_reason": evaluation.reason,
        "is_current": facts.is_current,
        "order_state": facts.order_state,
        "is_wish_express": facts.is_wish_express,
        "is_confirmed_delivery": facts.is_confirmed_delivery,
        "released_at": facts.released_at,
        "shipped_at": facts.shipped_at,
        "first_scan_at": facts.first_scan_at,
        "delivered_at": facts.delivered_at,
        "cancelled_at": facts.cancelled_at,
        "voided_at": voided_at,
        "last_event_at": facts.last_event_at,
        "first_scan_due_at": facts.first_scan_due_at,
        "delivery_due_at": facts.delivery_due_at,
        "order_updated_at": order_updated_at,
        "last_polled_at": last_polled_at,
        "poll_count": poll_count,
        "origin_country": origin_country if previous is None else (previous["origin_country"] or origin_country),
    }


def _fulfilled_by_wish(order: Mapping[str, Any]) -> bool:
    """Whether the order is in Wish's FBW program (``order_types``, comma-separated): Wish ships it."""
    return "FULFILLED_BY_WISH" in str(order.get("order_types") or "").split(",")


def _resolution(facts: ShipmentFacts | None, exception_type: str) -> str:
    if facts is None:
        return "shipment gone"
    if facts.delivered_at is not None:
        return "delivered"
    if facts.reshipped:
        return "reshipped"
    if facts.order_state == "REFUNDED":
        return "refunded"
    if facts.order_state != "SHIPPED" and exception_type != "TRACKING_CANCELLED":
        return f"order {facts.order_state.lower()}"
    if exception_type == "FIRST_SCAN_LATE" and facts.first_scan_at is not None:
        return "scanned"
    if exception_type == "NO_MOVEMENT":
        return "moved"
    return "cleared"


def _fallback_numbers(conn: Connection, store: str, order_ids: Sequence[str]) -> dict[str, list[str]]:
    """Tracking numbers the shipping outbox sent per order (oldest first), if that table exists."""
    from wishflow.warehouse.schema import metadata

    shipments = metadata.tables.get("shipments")
    if shipments is None or not order_ids:
        return {}
    out: dict[str, list[str]] = defaultdict(list)
    query = (
        select(shipments.c.order_id, shipments.c.tracking_number)
        .where(shipments.c.store == store, shipments.c.order_id.in_(order_ids))
        .order_by(shipments.c.order_id, shipments.c.planned_at)
    )
    for order_id, number in conn.execute(query):
        out[order_id].append(number)
    return out


def update_tracking(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    policy: TrackingPolicy | None = None,
    polled_order_ids: Iterable[str] = (),
    chunk_size: int = DEFAULT_CHUNK,
    loaded_at: datetime | None = None,
) -> TrackingUpdate:
    """Derive tracking for every order that needs it; one transaction per chunk of orders.

    ``now`` is Wish's clock (deadlines are Wish's); ``polled_order_ids`` were just read from Wish
    and get ``last_polled_at = now``.
    """
    policy = policy or TrackingPolicy()
    polled = set(polled_order_ids)
    result = TrackingUpdate()
    with engine.connect() as conn:
        ids = orders_to_derive(conn, store, polled)
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start : start + chunk_size]
        with engine.begin() as conn:
            _derive_chunk(conn, store, chunk, now, policy, polled, result, loaded_at or now)
    return result


def _derive_chunk(
    conn: Connection,
    store: str,
    order_ids: list[str],
    now: datetime,
    policy: TrackingPolicy,
    polled: set[str],
    result: TrackingUpdate,
    loaded_at: datetime,
) -> None:
    order_rows = {
        r["order_id"]: dict(r)
        for r in conn.execute(select(*_ORDER_COLUMNS).where(orders.c.store == store, orders.c.order_id.in_(order_ids)))
        .mappings()
        .all()
    }
    milestones: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for order_id, event_type, event_time in conn.execute(
        select(order_events.c.order_id, order_events.c.event_type, order_events.c.event_time)
        .where(
            order_events.c.store == store,
            order_events.c.order_id.in_(order_ids),
            order_events.c.event_type.in_(list(EVENT_STATUS)),
        )
        .order_by(order_events.c.order_id, order_events.c.event_time, order_events.c.event_id)
    ):
        milestones[order_id].append((event_type, event_time))
    known: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for known_row in conn.execute(
        select(shipment_tracking).where(shipment_tracking.c.store == store, shipment_tracking.c.order_id.in_(order_ids))
    ).mappings():
        known[known_row["order_id"]].append(dict(known_row))
    open_exc: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in conn.execute(
        select(tracking_exceptions).where(
            tracking_exceptions.c.store == store,
            tracking_exceptions.c.order_id.in_(order_ids),
            tracking_exceptions.c.resolved_at.is_(None),
        )
    ).mappings():
        open_exc[(row["order_id"], row["tracking_number"], row["exception_type"])] = dict(row)
    fallback = _fallback_numbers(
        conn, store, [o for o in order_ids if any(k == "TRACKING_CANCELLED" for k, _ in milestones.get(o, ()))]
    )

    shipment_rows: list[dict[str, Any]] = []
    event_rows: list[tuple[Any, ...]] = []
    new_exceptions: list[dict[str, Any]] = []
    facts_by_key: dict[tuple[str, str], ShipmentFacts] = {}
    desired: dict[tuple[str, str, str], Condition] = {}
    for order_id in order_ids:
        order = order_rows.get(order_id)
        if order is None:
            continue
        result.orders_derived += 1
        previous_rows = known.get(order_id, [])
        previous_by_number = {r["tracking_number"]: r for r in previous_rows}
        facts_list = shipment_facts(order, milestones.get(order_id, []), previous_rows, fallback.get(order_id, ()))
        was_polled = order_id in polled
        if was_polled:
            result.polled += 1
        for facts in facts_list:
            evaluation = evaluate(facts, now, policy)
            facts_by_key[(order_id, facts.tracking_number)] = facts
            result.statuses[evaluation.status.value] = result.statuses.get(evaluation.status.value, 0) + 1
            previous = previous_by_number.get(facts.tracking_number)
            new_row = _row(
                store, facts, evaluation, order["updated_at"], order["origin_country"], previous, was_polled, now
            )
            if previous is None or any(previous[c] != new_row[c] for c in _TRACKED_COLUMNS):
                shipment_rows.append(new_row)
                if evaluation.status is Status.CANCELLED and (previous is None or previous["voided_at"] is None):
                    result.voided.append((order_id, facts.tracking_number))
            if not _fulfilled_by_wish(order):  # Wish ships FBW orders: nothing there for the merchant to act on
                for condition in evaluation.conditions:
                    desired[(order_id, facts.tracking_number, condition.exception_type.value)] = condition
        if order["updated_at"] is not None and (
            not previous_rows or max(r["order_updated_at"] for r in previous_rows) < order["updated_at"]
        ):
            for event_type, event_time, number, provider in _segment_events(milestones.get(order_id, []), facts_list):
                event_rows.append(
                    (
                        store,
                        order_id,
                        number,
                        provider,
                        event_type,
                        event_time,
                        EVENT_STATUS[event_type].value,
                        order["updated_at"],
                        loaded_at,
                    )
                )

    # exceptions: open new ones, escalate, resolve what no longer holds
    for key, condition in desired.items():
        existing = open_exc.get(key)
        order_id, number, kind = key
        if existing is None:
            new_exceptions.append(
                {
                    "store": store,
                    "order_id": order_id,
                    "tracking_number": number,
                    "exception_type": kind,
                    "opened_at": now,
                    "severity": condition.severity.value,
                    "deadline_at": condition.deadline_at,
                    "details": condition.details,
                    "escalated_at": None,
                    "resolved_at": None,
                    "resolution": None,
                    "_loaded_at": loaded_at,
                }
            )
            result.changes.append(
                ExceptionChange(
                    order_id, number, kind, condition.severity.value, "opened", condition.deadline_at, condition.details
                )
            )
            continue
        values: dict[str, Any] = {}
        if existing["severity"] != condition.severity.value:
            values["severity"] = condition.severity.value
            values["escalated_at"] = now
        if existing["details"] != condition.details:
            values["details"] = condition.details
        if existing["deadline_at"] != condition.deadline_at:
            values["deadline_at"] = condition.deadline_at
        if values:
            values["_loaded_at"] = loaded_at
            conn.execute(update(tracking_exceptions).where(*_exception_key(store, existing)).values(**values))
            if "severity" in values:
                result.changes.append(
                    ExceptionChange(
                        order_id,
                        number,
                        kind,
                        condition.severity.value,
                        "escalated",
                        condition.deadline_at,
                        condition.details,
                    )
                )
    for key, existing in open_exc.items():
        if key in desired:
            continue
        order_id, number, kind = key
        resolution = _resolution(facts_by_key.get((order_id, number)), kind)
        conn.execute(
            update(tracking_exceptions)
            .where(*_exception_key(store, existing))
            .values(resolved_at=now, resolution=resolution, _loaded_at=loaded_at)
        )
        result.changes.append(
            ExceptionChange(
                order_id, number, kind, existing["severity"], "resolved", existing["deadline_at"], resolution
            )
        )
    if new_exceptions:
        conn.execute(tracking_exceptions.insert(), new_exceptions)

    if shipment_rows:
        stage = stage_table(shipment_tracking)
        columns = [*_TRACKED_COLUMNS, "_loaded_at"]
        fill_stage(conn, stage, columns, [tuple(r[c] for c in _TRACKED_COLUMNS) + (loaded_at,) for r in shipment_rows])
        upsert_from_stage(conn, shipment_tracking, stage, ("store", "order_id", "tracking_number"))
        result.shipments_written += len(shipment_rows)
    if event_rows:
        stage = stage_table(tracking_events)
        fill_stage(
            conn,
            stage,
            (
                "store",
                "order_id",
                "tracking_number",
                "shipping_provider",
                "event_type",
                "event_time",
                "status",
                "source_updated_at",
                "_loaded_at",
            ),
            event_rows,
        )
        result.events_new += upsert_from_stage(
            conn, tracking_events, stage, ("store", "order_id", "event_type", "event_time"), update=False
        )


def _exception_key(store: str, row: Mapping[str, Any]) -> list[Any]:
    t = tracking_exceptions
    return [
        t.c.store == store,
        t.c.order_id == row["order_id"],
        t.c.tracking_number == row["tracking_number"],
        t.c.exception_type == row["exception_type"],
        t.c.opened_at == row["opened_at"],
    ]


# -- polling --------------------------------------------------------------------------------------


def _facts_from_row(row: Mapping[str, Any]) -> ShipmentFacts:
    return ShipmentFacts(
        order_id=row["order_id"],
        tracking_number=row["tracking_number"],
        shipping_provider=row["shipping_provider"],
        order_state=row["order_state"],
        is_current=row["is_current"],
        is_wish_express=row["is_wish_express"],
        is_confirmed_delivery=row["is_confirmed_delivery"],
        released_at=row["released_at"],
        shipped_at=row["shipped_at"],
        first_scan_at=row["first_scan_at"],
        delivered_at=row["delivered_at"],
        cancelled_at=row["cancelled_at"],
        last_event_at=row["last_event_at"],
        first_scan_due_at=row["first_scan_due_at"],
        delivery_due_at=row["delivery_due_at"],
    )


def due_for_poll(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    policy: TrackingPolicy | None = None,
    exclude: Iterable[str] = (),
    limit: int | None = None,
) -> list[str]:
    """Order ids of shipped-not-delivered parcels not read from Wish within their poll interval.

    Parcels polled recently are skipped; urgent ones (an open exception or a deadline within the
    warning window) use the shorter interval. The most urgent deadlines come first.
    """
    policy = policy or TrackingPolicy()
    skip = set(exclude)
    st = shipment_tracking
    query = select(st).where(
        st.c.store == store,
        st.c.order_state == "SHIPPED",
        st.c.is_current.is_(True),
        st.c.status.not_in([s.value for s in FINAL_STATUSES]),
    )
    due: list[tuple[datetime, str]] = []
    far = now + timedelta(days=3650)
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            if row["order_id"] in skip:
                continue
            facts = _facts_from_row(dict(row))
            evaluation = evaluate(facts, now, policy)
            if poll_due(facts, evaluation, row["last_polled_at"], now, policy):
                deadlines = [
                    d
                    for d in (facts.first_scan_due_at if not facts.first_scan_at else None, facts.delivery_due_at)
                    if d
                ]
                due.append((min(deadlines) if deadlines else far, row["order_id"]))
    due.sort()
    ids = [order_id for _, order_id in due]
    return ids if limit is None else ids[:limit]


def shipments_in_flight(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Shipped-not-delivered shipments (current numbers of SHIPPED orders), most urgent first."""
    st = shipment_tracking
    with engine.connect() as conn:
        rows = conn.execute(
            select(st)
            .where(
                st.c.store == store,
                st.c.order_state == "SHIPPED",
                st.c.is_current.is_(True),
                st.c.status.not_in([s.value for s in FINAL_STATUSES]),
            )
            .order_by(st.c.first_scan_due_at, st.c.order_id)
        ).mappings()
        return [dict(r) for r in rows]


def open_exceptions(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Open tracking exceptions, missed ones first, then by deadline."""
    t = tracking_exceptions
    with engine.connect() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(t)
                .where(and_(t.c.store == store, t.c.resolved_at.is_(None)))
                .order_by(t.c.deadline_at, t.c.order_id)
            ).mappings()
        ]
    rank = {"missed": 0, "action": 1, "at_risk": 2}
    rows.sort(key=lambda r: rank.get(r["severity"], 3))
    return rows
