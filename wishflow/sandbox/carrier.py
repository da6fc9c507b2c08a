"""What happens to an order after Wish accepts it.

The carrier's scans and deliveries, cancelled tracking, and the deadlines that refund or fine (ship,
first scan, delivery), plus review outcomes.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from . import programs
from .aftersales import AfterSalesPart
from .model import SHIP_DEADLINE_MS, OrderRec, _money
from .timeutil import DAY_MS, HOUR_MS, fmt_ms, parse_ms


class CarrierPart(AfterSalesPart):
    """Carrier and deadline events; each is seeded per order so a run repeats."""

    def _plan_carrier(self, rec: OrderRec, doc: dict[str, Any], at: int, *, scanned: bool) -> None:
        """Plan what the carrier will do with this parcel, seeded per order.

        It scans, delivers, gets delayed, never scans, or cancels the tracking (the order is then
        re-released to the merchant).
        """
        cfg = self.config
        gen = rec.ship_gen
        rng = random.Random(f"{cfg.seed}:carrier:{rec.id}:{gen}")
        roll = rng.random()
        express = "WISH_EXPRESS" in rec.types
        delayed = rng.random() < cfg.delayed_share
        if not scanned and roll < cfg.cancelled_share:
            self._schedule(at + rng.randint(3, 8) * DAY_MS, "tracking_cancelled", rec.id, gen=gen)
            return
        if not scanned and roll < cfg.cancelled_share + cfg.never_scanned_share:
            return
        scan_at = at
        if not scanned:
            scan_at = at + rng.randint(6, 60) * HOUR_MS + (rng.randint(7, 12) * DAY_MS if delayed else 0)
            self._schedule(scan_at, "first_scan", rec.id, gen=gen)
        transit = rng.randint(1, 3) if express else rng.randint(4, 12)
        if delayed:
            transit += rng.randint(15, 30)
        deliver_at = scan_at + transit * DAY_MS + rng.randint(0, 23) * HOUR_MS
        self._schedule(deliver_at, "delivered", rec.id, gen=gen)
        try:
            deadline = parse_ms(doc["fulfillment_requirements"]["expected_delivery_time"])
        except (KeyError, TypeError, ValueError):
            deadline = None
        if deadline is not None and deadline > at and (express or "CONFIRMED_DELIVERY_POLICY" in rec.types):
            self._schedule(deadline, "delivery_deadline", rec.id, gen=gen)
        if rng.random() < cfg.ticket_share:
            if delayed:
                self._schedule(at + 20 * DAY_MS, "ticket_opened", rec.id, gen=gen, reason="SHIPPING_TAKING_TOO_LONG")
            else:
                reason = rng.choice(("ITEM_IS_DAMAGED", "ITEM_DOES_NOT_MATCH_LISTING", "ITEM_DOES_NOT_FIT"))
                self._schedule(deliver_at + 2 * DAY_MS, "ticket_opened", rec.id, gen=gen, reason=reason)

    def _carrier_event_applies(self, order_id: str, data: dict[str, Any]) -> tuple[OrderRec, dict[str, Any]] | None:
        rec = self._orders.get(order_id)
        if rec is None or rec.ship_gen != data.get("gen") or rec.state != "SHIPPED":
            return None
        return rec, orjson.loads(rec.raw)

    def _on_first_scan(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        found = self._carrier_event_applies(order_id, data)
        if found and not self._has_record(found[1], "CONFIRM_FULFILLED"):
            rec, doc = found
            self._records(doc).append({"event_type": "CONFIRM_FULFILLED", "event_time": fmt_ms(at)})
            self._save(rec, doc, at)

    def _on_delivered(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        found = self._carrier_event_applies(order_id, data)
        if found and not self._has_record(found[1], "CONFIRMED_DELIVERED"):
            rec, doc = found
            if not self._has_record(doc, "CONFIRM_FULFILLED"):
                self._records(doc).append({"event_type": "CONFIRM_FULFILLED", "event_time": fmt_ms(at)})
            self._records(doc).append({"event_type": "CONFIRMED_DELIVERED", "event_time": fmt_ms(at)})
            for program in doc.get("special_programs") or ():
                if isinstance(program, dict) and program.get("status") == "PENDING":
                    program["status"] = "SUCCEED"
            self._save(rec, doc, at)

    def _on_tracking_cancelled(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        found = self._carrier_event_applies(order_id, data)
        if not found:
            return
        rec, doc = found
        if self._has_record(doc, "CONFIRM_FULFILLED"):
            return
        for info in doc.get("tracking_information") or ():
            if isinstance(info, dict):
                self._tracking_index.get(info.get("tracking_number", ""), set()).discard(order_id)
        records = self._records(doc)
        records.append({"event_type": "TRACKING_CANCELLED", "event_time": fmt_ms(at)})
        records.append({"event_type": "ORDER_RE_RELEASED", "event_time": fmt_ms(at)})
        doc["state"] = "APPROVED"
        doc["tracking_information"] = []
        doc.pop("processing_source", None)
        doc.pop("processing_status", None)
        ship_by = at + SHIP_DEADLINE_MS
        doc.setdefault("fulfillment_requirements", {})["expected_ship_time"] = fmt_ms(ship_by)
        rec.ship_gen += 1
        self._save(rec, doc, at)
        self._schedule(ship_by, "ship_deadline", order_id, due=ship_by)

    def _on_ship_deadline(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        """Not marked shipped by expected_ship_time: Wish refunds the order and fines the merchant."""
        rec = self._orders.get(order_id)
        if rec is None or rec.state != "APPROVED" or self._in_progress(rec):
            return
        if programs.fbw_fulfil(self, at, order_id):  # FBW: Wish ships it, the merchant is not fined
            return
        doc = orjson.loads(rec.raw)
        if self._expected_ship_ms(doc) != data.get("due"):
            return
        value = self._order_value(doc)
        doc["state"] = "REFUNDED"
        doc.setdefault("refunds", []).append(
            {
                "refund_reason": "UNABLE_TO_SHIP",
                "refund_reason_note": "Automatically refunded: not marked shipped by the expected ship time",
                "refund_source": "WISH",
                "refund_time": fmt_ms(at),
                "refund_amount": _money(value, programs.doc_currency(doc)),
                "merchant_responsible_amount": _money(value, programs.doc_currency(doc)),
            }
        )
        penalty_id = self._add_penalty(at, order_id, "AUTO_REFUND_LATE_FULFILLMENT", max(1.0, value * 0.2))
        doc.setdefault("penalties", []).append(penalty_id)
        self._save(rec, doc, at)

    def _on_scan_deadline(self, at: int, order_id: str, _data: dict[str, Any]) -> None:
        """No first carrier scan within 168 h (336 h from $100) of release: late fulfillment penalty."""
        rec = self._orders.get(order_id)
        if rec is None or rec.state != "SHIPPED" or "late_scan" in rec.penalized:
            return
        doc = orjson.loads(rec.raw)
        if self._has_record(doc, "CONFIRM_FULFILLED"):
            return
        rec.penalized.add("late_scan")
        penalty_id = self._add_penalty(
            at, order_id, "LATE_CONFIRMED_FULFILLMENT", max(1.0, self._order_value(doc) * 0.2)
        )
        doc.setdefault("penalties", []).append(penalty_id)
        self._save(rec, doc, at)

    def _on_delivery_deadline(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        found = self._carrier_event_applies(order_id, data)
        if not found or "late_delivery" in found[0].penalized:
            return
        rec, doc = found
        if self._has_record(doc, "CONFIRMED_DELIVERED"):
            return
        rec.penalized.add("late_delivery")
        reason = "WISH_EXPRESS_LATE_DELIVERY" if "WISH_EXPRESS" in rec.types else "CONFIRMED_DELIVERY_NOT_MET"
        penalty_id = self._add_penalty(at, order_id, reason, max(1.0, self._order_value(doc) * 0.2))
        doc.setdefault("penalties", []).append(penalty_id)
        for program in doc.get("special_programs") or ():
            if isinstance(program, dict) and program.get("status") == "PENDING":
                program["status"] = "FAILED"
        self._save(rec, doc, at)

    def _on_review_resolved(self, at: int, order_id: str, _data: dict[str, Any]) -> None:
        rec = self._orders.get(order_id)
        if rec is None or rec.state != "REQUIRE_REVIEW":
            return
        doc = orjson.loads(rec.raw)
        approved = random.Random(f"{self.config.seed}:review:{order_id}").random() < 0.7
        doc["state"] = "APPROVED" if approved else "DECLINED"
        if approved:
            ship_by = at + SHIP_DEADLINE_MS
            doc.setdefault("fulfillment_requirements", {})["expected_ship_time"] = fmt_ms(ship_by)
            self._schedule(ship_by, "ship_deadline", order_id, due=ship_by)
        self._save(rec, doc, at)

    def _on_fbw_fulfilled(self, at: int, order_id: str, _data: dict[str, Any]) -> None:
        programs.fbw_fulfil(self, at, order_id)
