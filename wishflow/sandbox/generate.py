"""Order generation: seeded orders drawn from the catalogue.

Also the initial history, the release stream, and how a new order is stored with the events of its
life scheduled.
"""

from __future__ import annotations

import copy
import gc
import random
from collections.abc import Iterable, Iterator
from typing import Any

from . import errors as E
from . import programs
from .carrier import CarrierPart
from .data import (
    BAD_DATA_KINDS,
    CONFIRMED_DELIVERY_CARRIERS,
    TRACKING_FORMATS,
    apply_defect,
    carrier_serves,
    make_recipient,
    make_tracking_number,
    object_id,
)
from .errors import SandboxError
from .model import INITIAL_RELEASE_WINDOW_MS, SHIP_DEADLINE_MS, STATES, OrderRec, _copy_recipient, _dumps, _money
from .timeutil import DAY_MS, HOUR_MS, fmt_ms, parse_ms


def _happened_by(released_ms: int, delay_ms: int, now_ms: int) -> int:
    """When a generated order's step (shipment, refund) drawn ``delay_ms`` after release happened.

    An order drawn in that state but released too recently for the drawn delay took it sooner: at a
    time spread over its time since release, derived from the delay drawn (no draw of its own).
    Stamping every such step "now" put 4% of a generated history (40,000 orders of a
    million) on one millisecond: a tie no merchant's account shows, which the first pull after a
    backfill read again whole (bench/PROFILE.md, stop 26). Never before the release.
    """
    room = max(now_ms - released_ms, 0)
    return released_ms + (delay_ms if delay_ms <= room else delay_ms % (room + 1))


class GenerationPart(CarrierPart):
    """Draws orders and adds them (the seeded initial orders and the release stream)."""

    def _new_id(self, ts_ms: int) -> str:
        while True:
            oid = object_id(self._id_rng, ts_ms)
            if oid not in self._orders:
                return oid

    def _pick_recipient(self, rng: random.Random) -> dict[str, Any]:
        if self._recent_recipients and rng.random() < 0.15:
            return _copy_recipient(rng.choice(self._recent_recipients))
        recipient = make_recipient(rng)
        self._recent_recipients.append(recipient)
        return _copy_recipient(recipient)

    def _draw_types(self, rng: random.Random) -> list[str]:
        types = []
        if rng.random() < self.config.wish_express_share:
            types.append("WISH_EXPRESS")
        types.append("FULFILLED_BY_STORE")
        if rng.random() < self.config.confirmed_delivery_share:
            types.append("CONFIRMED_DELIVERY_POLICY")
        return programs.draw_types(self, rng, types)  # FBW / LTL / Wish Express under a data profile

    def _build_order(
        self,
        *,
        rng: random.Random,
        released_ms: int,
        now_ms: int,
        state: str,
        recipient: dict[str, Any],
        types: list[str],
        transaction_id: str,
        allow_defect: bool = True,
    ) -> dict[str, Any]:
        var_index = rng.randrange(len(self.catalog))
        qty = rng.choices((1, 2, 3, 4, 5), weights=(75, 15, 5, 3, 2))[0]
        express = "WISH_EXPRESS" in types
        cdp = "CONFIRMED_DELIVERY_POLICY" in types
        delivery_days = 7 if express else 30
        released = fmt_ms(released_ms)
        order: dict[str, Any] = {
            "id": self._new_id(released_ms),
            "transaction_id": transaction_id,
            "state": state,
            "released_at": released,
            "updated_at": released,
            "fulfillment_requirements": {
                "expected_ship_time": fmt_ms(released_ms + SHIP_DEADLINE_MS),
                "expected_delivery_time": fmt_ms(released_ms + delivery_days * DAY_MS),
            },
            # shared per variation / quantity: never mutated in place (see deep_merge)
            "product_information": self._product_info(var_index),
            "order_payment": self._payment(var_index, qty, express),
            "full_address": {"shipping_detail": recipient},
            "fulfillment_order_types": types,
            "fulfillment_records": [{"event_type": "ORDER_RELEASED", "event_time": released}],
            "tracking_information": [],
            "refunds": [],
            "penalties": [],
            "total_frs_quantity": qty,
            "warehouse_information": {
                "warehouse_type": "PRIMARY",
                "warehouse_name": "Main warehouse",
                "warehouse_id": self.warehouse_id,
            },
            "special_programs": [],
        }
        if cdp:
            order["special_programs"].append({"display_name": "Confirmed Delivery", "status": "PENDING"})
        if state == "SHIPPED":
            self._generate_shipped_history(order, rng, released_ms, now_ms)
        elif state == "REFUNDED":
            refund_ms = _happened_by(released_ms, rng.randint(1, 48) * HOUR_MS, now_ms)
            total = self._order_value(order)
            order["refunds"].append(
                {
                    "refund_reason": rng.choice(("UNABLE_TO_SHIP", "MERCHANT_OUT_OF_STOCK")),
                    "refund_source": rng.choice(("MERCHANT", "CUSTOMER")),
                    "refund_time": fmt_ms(refund_ms),
                    "refund_amount": _money(total),
                    "merchant_responsible_amount": _money(0.0),
                }
            )
            order["updated_at"] = fmt_ms(refund_ms)
        order = programs.decorate(self, order)  # the data profile's currency
        bad_share = self.config.bad_order_share
        if allow_defect and bad_share > 0 and rng.random() < bad_share:
            order = copy.deepcopy(order)
            apply_defect(order, rng.choice(BAD_DATA_KINDS))
        return order

    def _product_info(self, var_index: int) -> dict[str, Any]:
        cached = self._product_cache.get(var_index)
        if cached is None:
            var = self.catalog[var_index]
            cached = self._product_cache[var_index] = {
                "id": var.product_id,
                "variation_id": var.variation_id,
                "sku": var.sku,
                "name": var.name,
                "color": var.color,
                "size": var.size,
                "manufactured_country": var.manufactured_country,
                "variation_image_url": var.image_url,
            }
        return cached

    def _payment(self, var_index: int, qty: int, express: bool) -> dict[str, Any]:
        key = (var_index, qty, express)
        cached = self._payment_cache.get(key)
        if cached is None:
            var = self.catalog[var_index]
            price, ship = var.price, var.shipping_price
            total = (price + ship) * qty
            cached = {
                "general_payment_details": {
                    "product_quantity": qty,
                    "product_price": _money(price),
                    "product_shipping_price": _money(ship),
                    "payment_total": _money(total),
                    "product_merchant_payment": _money(price * qty * 0.85),
                    "shipping_merchant_payment": _money(ship * qty * 0.85),
                    "customer_paid_prices_detail": {
                        "product_price": _money(price),
                        "product_price_total": _money(price * qty),
                        "shipping_price": _money(ship),
                        "shipping_price_total": _money(ship * qty),
                        "total": _money(total),
                    },
                },
                "rev_share": {
                    "rev_share": 0.15,  # a decimal fraction (spec: "0.15 means 15%")
                    "product_category": var.category,
                    "merchant_commission_fees": _money(price * qty * 0.15),
                },
            }
            if express:
                cached["rev_share"]["shipping_type"] = "WISH_EXPRESS"
            self._payment_cache[key] = cached
        return cached

    def _generate_shipped_history(
        self, order: dict[str, Any], rng: random.Random, released_ms: int, now_ms: int
    ) -> None:
        detail = order["full_address"]["shipping_detail"]
        country = detail.get("country_code", "US")
        cdp = "CONFIRMED_DELIVERY_POLICY" in order["fulfillment_order_types"]
        choices = [
            c for c in TRACKING_FORMATS if carrier_serves(c, country) and (not cdp or c in CONFIRMED_DELIVERY_CARRIERS)
        ] or ["DHL"]
        carrier = rng.choice(choices)
        ship_ms = _happened_by(released_ms, rng.randint(2, 72) * HOUR_MS, now_ms)
        order["tracking_information"] = [
            {
                "tracking_number": make_tracking_number(carrier, rng),
                "shipping_provider": {"name": carrier},
                "origin_country": "CN",
            }
        ]
        order["processing_source"] = "UPDATE_TRACKING"
        order["processing_status"] = "SUCCEEDED"
        records = order["fulfillment_records"]
        records.append({"event_type": "MARK_SHIPPED", "event_time": fmt_ms(ship_ms)})
        last = ship_ms
        scan_ms = ship_ms + rng.randint(12, 60) * HOUR_MS
        if scan_ms <= now_ms:
            records.append({"event_type": "CONFIRM_FULFILLED", "event_time": fmt_ms(scan_ms)})
            last = scan_ms
            deliver_ms = scan_ms + rng.randint(3, 10) * DAY_MS
            if deliver_ms <= now_ms:
                records.append({"event_type": "CONFIRMED_DELIVERED", "event_time": fmt_ms(deliver_ms)})
                last = deliver_ms
        order["updated_at"] = fmt_ms(last)

    def _draw_state(self, rng: random.Random) -> str:
        return rng.choices(STATES, weights=(78, 10, 4, 5, 3))[0]

    def _generate_initial(self, count: int, now_ms: int) -> None:
        """A realistic mix of orders released over the last four days."""
        rng = self._rng
        offsets = sorted(rng.randrange(INITIAL_RELEASE_WINDOW_MS) for _ in range(count))

        def docs() -> Iterator[dict[str, Any]]:
            made = i = 0
            while made < count:
                released_ms = now_ms - INITIAL_RELEASE_WINDOW_MS + offsets[min(i, count - 1)]
                i += 1
                for doc in self._generate_group(rng, released_ms, now_ms, None, count - made):
                    made += 1
                    yield doc

        self._add_docs(docs(), now_ms)

    def _generate_group(
        self, rng: random.Random, released_ms: int, now_ms: int, state: str | None, room: int
    ) -> list[dict[str, Any]]:
        """One transaction: usually one order, sometimes 2-3 to the same recipient."""
        size = 1
        if room > 1 and rng.random() < 0.08:
            size = min(room, rng.choice((2, 2, 3)))
        recipient = self._pick_recipient(rng)
        transaction_id = object_id(self._id_rng, released_ms)
        types = self._draw_types(rng)
        st = state or self._draw_state(rng)
        return [
            self._build_order(
                rng=rng,
                released_ms=released_ms,
                now_ms=now_ms,
                state=st,
                recipient=_copy_recipient(recipient),
                types=list(types),
                transaction_id=transaction_id,
            )
            for _ in range(size)
        ]

    def _release_one(self, at_ms: int) -> None:
        docs = self._generate_group(self._rng, at_ms, at_ms, "APPROVED", 3)
        self._add_docs(docs, at_ms)

    def _add_docs(self, docs: Iterable[dict[str, Any]], now: int) -> list[str]:
        """Index and store orders (a stream: each dict is serialised and dropped)."""
        ids: list[str] = []
        touched: set[tuple[str, str]] = set()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # millions of short-lived dicts would make the cyclic GC quadratic
        try:
            self._add_docs_inner(docs, now, ids, touched)
        finally:
            if gc_was_enabled:
                gc.enable()
            for key in touched:
                self._idx[key].sort()
        return ids

    def _add_docs_inner(
        self, docs: Iterable[dict[str, Any]], now: int, ids: list[str], touched: set[tuple[str, str]]
    ) -> None:
        for doc in docs:
            try:
                state = doc["state"]
                updated_ms = parse_ms(doc["updated_at"])
                released_ms = parse_ms(doc["released_at"])
            except (KeyError, TypeError, ValueError) as exc:
                raise SandboxError(E.INVALID_PARAMETER, f"order needs state/updated_at/released_at: {exc}") from None
            if state not in STATES:
                raise SandboxError(E.INVALID_PARAMETER, f"unknown state {state!r}")
            if len(doc["updated_at"]) != 24:
                doc["updated_at"] = fmt_ms(updated_ms)
            if len(doc["released_at"]) != 24:
                doc["released_at"] = fmt_ms(released_ms)
            programs.finish(self, doc)  # program-dependent parts agree with the final programs
            types = tuple(doc.get("fulfillment_order_types") or ())
            rec = OrderRec(doc["id"], state, updated_ms, released_ms, types, _dumps(doc))
            self._orders[rec.id] = rec
            self._idx[("updated_at", state)].append((updated_ms, rec.id))
            self._idx[("released_at", state)].append((released_ms, rec.id))
            touched.add(("updated_at", state))
            touched.add(("released_at", state))
            for info in doc.get("tracking_information") or ():
                number = info.get("tracking_number") if isinstance(info, dict) else None
                if number:
                    self._tracking_index.setdefault(number, set()).add(rec.id)
            self._schedule_lifecycle(rec, doc, now)
            programs.schedule_program_events(self, rec, now)
            ids.append(rec.id)

    def _schedule_lifecycle(self, rec: OrderRec, doc: dict[str, Any], now: int) -> None:
        """Deadlines and milestones of a newly added order (only those still ahead)."""
        if rec.state == "APPROVED":
            ship_by = self._expected_ship_ms(doc)
            if ship_by is not None and ship_by > now:
                self._schedule(ship_by, "ship_deadline", rec.id, due=ship_by)
        elif rec.state == "REQUIRE_REVIEW":
            resolve = max(rec.released_ms + 24 * HOUR_MS, now + HOUR_MS)
            self._schedule(resolve, "review_resolved", rec.id)
        if rec.state in ("APPROVED", "SHIPPED"):
            scan_by = rec.released_ms + self._scan_window_ms(doc)
            if scan_by > now:
                self._schedule(scan_by, "scan_deadline", rec.id)
        if rec.state == "SHIPPED":
            events = {r.get("event_type") for r in doc.get("fulfillment_records") or () if isinstance(r, dict)}
            if "CONFIRMED_DELIVERED" not in events:
                self._plan_carrier(rec, doc, now, scanned="CONFIRM_FULFILLED" in events)
