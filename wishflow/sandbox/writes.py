"""Writes to Wish orders: tracking (mark shipped / modify), address changes and refunds.

Also the writes log, the sandbox-only labels and the carrier list.

Every write kind (these three and the LTL update in ``programs.py``) starts in
:meth:`WritesPart._accept_write` (fire what is due, find the order, validate, log and raise a
rejection) and logs what it accepted with :meth:`WritesPart._log_outcome`; the two asynchronous kinds
without a write profile (address, refund) are queued by :meth:`WritesPart._queue_write` and completed
by ``_on_write_processed``. What the tracking write's response and later reads show follows the write profile
(``write_profiles.py``).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any, TypeVar

import orjson

from . import errors as E
from . import programs
from .data import (
    CONFIRMED_DELIVERY_CARRIERS,
    canonical_carrier,
    carrier_serves,
    carriers_for,
    label_cost,
    make_tracking_number,
)
from .errors import SandboxError
from .listing import ListingPart
from .model import (
    _ISO2,
    REASONS_AFTER_DELIVERY,
    REASONS_BEFORE_SHIPPING,
    REASONS_IN_TRANSIT,
    REFUND_REASONS,
    SHARED_TRACKING_WINDOW_MS,
    OrderRec,
    _money,
    _recipient_key,
)
from .timeutil import fmt_ms
from .write_profiles import WriteProfile

_Checked = TypeVar("_Checked")


class WritesPart(ListingPart):
    """The write endpoints and their asynchronous completion."""

    def _log_write(self, order_id: str, entry: dict[str, Any]) -> int:
        """Append to the order's write log; returns the entry's index (events refer to it by index)."""
        log = self._writes.setdefault(order_id, [])
        log.append(entry)
        return len(log) - 1

    def _reject(self, order_id: str, endpoint: str, body: Any, at_ms: int, err: SandboxError) -> SandboxError:
        if order_id in self._orders:
            self._log_write(
                order_id,
                {
                    "at": fmt_ms(at_ms),
                    "endpoint": endpoint,
                    "body": body,
                    "outcome": "rejected",
                    "code": err.code,
                    "message": err.message,
                },
            )
        return err

    def _accept_write(
        self, order_id: str, endpoint: str, body: Any, validate: Callable[[OrderRec, int], _Checked]
    ) -> tuple[int, OrderRec, _Checked]:
        """Where every write starts, so that every kind is checked and logged the same way.

        Fires what is due, finds the order (an unknown id raises not-found, unlogged), runs
        ``validate(rec, now)``; its :class:`SandboxError` is logged as ``rejected`` in the order's
        writes log and raised. Returns the write's time, the order and what ``validate`` returned.
        Call it holding the lock.
        """
        now = self.tick()
        rec = self._rec(order_id)
        try:
            checked = validate(rec, now)
        except SandboxError as err:
            raise self._reject(order_id, endpoint, body, now, err) from None
        return now, rec, checked

    def _log_outcome(
        self, order_id: str, endpoint: str, body: Any, at_ms: int, outcome: str = "accepted", **extra: Any
    ) -> int:
        """Log a write that was not rejected (``accepted`` or ``no-op``); returns its index in the log."""
        return self._log_write(
            order_id, {"at": fmt_ms(at_ms), "endpoint": endpoint, "body": body, "outcome": outcome, "code": 0, **extra}
        )

    def _queue_write(
        self, rec: OrderRec, doc: dict[str, Any], at_ms: int, endpoint: str, body: Any, source: str, **data: Any
    ) -> bytes:
        """Save ``doc`` as the order with the write in progress, and schedule its completion.

        ``processing_source`` is ``source``; the write completes after ``ship_processing_seconds``,
        and ``data`` goes to that event.
        """
        doc["processing_source"] = source
        doc["processing_status"] = "IN_PROGRESS"
        rec.write_seq += 1
        entry_index = self._log_outcome(rec.id, endpoint, body, at_ms)
        self._save(rec, doc, at_ms)
        self._schedule(
            at_ms + int(self.config.ship_processing_seconds * 1000),
            "write_processed",
            rec.id,
            seq=rec.write_seq,
            entry=entry_index,
            **data,
        )
        return rec.raw

    def ship(self, order_id: str, body: Any) -> bytes:
        """``PUT /orders/{id}/tracking``: validates synchronously, completes asynchronously.

        What the response and later reads show, how long processing takes, what a busy order does and
        what the same number twice does follow the write profile (``write_profiles.py``).
        """
        with self.lock:
            now, rec, (number, carrier, origin, note) = self._accept_write(
                order_id, "tracking", body, lambda rec, _now: self._validate_tracking(rec, body)
            )
            profile = self.write_profile
            before = rec.raw
            doc = orjson.loads(rec.raw)
            previous = list(doc.get("tracking_information") or [])
            tracking: dict[str, Any] = {
                "tracking_number": number,
                "shipping_provider": {"name": carrier},
                "origin_country": origin,
            }
            if note is not None:
                tracking["ship_note"] = note
            busy = self._in_progress(rec)
            if (
                profile.same_number == "noop"
                and not busy
                and previous
                and str(previous[0].get("tracking_number", "")).upper() == number.upper()
            ):
                self._log_outcome(order_id, "tracking", body, now, "no-op")
                return self._tracking_response(profile, before, before)
            shown = copy.deepcopy(doc)
            shown["tracking_information"] = [tracking, *previous][:2]
            shown["processing_source"] = "UPDATE_TRACKING"
            shown["processing_status"] = "IN_PROGRESS"
            if profile.view == "new":
                doc = shown
            elif profile.view == "queued":
                doc["processing_source"] = "UPDATE_TRACKING"
                doc["processing_status"] = "IN_PROGRESS"
            rec.write_seq += 1
            entry_index = self._log_outcome(order_id, "tracking", body, now, processing_status="IN_PROGRESS")
            pending = self._pending_tracking.setdefault(order_id, [])
            if busy and profile.busy == "last_wins":
                for index in pending:
                    self._writes[order_id][index]["processing_status"] = "SUPERSEDED"
                pending.clear()
            pending.append(entry_index)
            self._tracking_index.setdefault(number, set()).add(order_id)
            if profile.view != "hidden":
                self._save(rec, doc, now)
            seconds = profile.processing_seconds
            delay = int((self.config.ship_processing_seconds if seconds is None else seconds) * 1000)
            start = max(now, self._busy_until.get(order_id, now)) if busy and profile.busy == "queue" else now
            due = start + delay
            self._busy_until[order_id] = max(self._busy_until.get(order_id, due), due)
            self._schedule(
                due,
                "tracking_processed",
                order_id,
                seq=rec.write_seq,
                previous=previous,
                number=number,
                carrier=carrier,
                tracking=tracking,
                entry=entry_index,
            )
            if delay <= 0:
                self.tick()
            return self._tracking_response(profile, before, orjson.dumps(shown), current=rec.raw)

    @staticmethod
    def _tracking_response(
        profile: WriteProfile, before: bytes, shown: bytes, *, current: bytes | None = None
    ) -> bytes:
        """The accepted write's response body, as the profile says (``default``: the order as it is now)."""
        if profile.response == "empty":
            return b"{}"
        if profile.response == "old":
            return before
        if profile.response == "queued":
            doc = orjson.loads(before)
            doc["processing_source"] = "UPDATE_TRACKING"
            doc["processing_status"] = "IN_PROGRESS"
            return orjson.dumps(doc)
        if profile.view == "new" and current is not None:
            return current
        return shown

    def _validate_tracking(self, rec: OrderRec, body: Any) -> tuple[str, str, str, str | None]:
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "request body must be a JSON object")
        number = body.get("tracking_number")
        provider = body.get("shipping_provider")
        origin = body.get("origin_country")
        note = body.get("ship_note")
        for name, value in (("tracking_number", number), ("shipping_provider", provider), ("origin_country", origin)):
            if not isinstance(value, str) or not value.strip():
                raise SandboxError(E.INVALID_PARAMETER, f"{name} is required")
        assert isinstance(number, str)
        assert isinstance(provider, str)
        assert isinstance(origin, str)
        if not _ISO2.match(origin):
            raise SandboxError(E.INVALID_PARAMETER, "origin_country must be an ISO 3166 alpha-2 code")
        if note is not None and (not isinstance(note, str) or not note or len(note) > 500):
            raise SandboxError(E.INVALID_PARAMETER, "ship_note must be a string of 1 to 500 characters")
        if self._in_progress(rec) and self.write_profile.busy == "reject":
            raise SandboxError(E.WRITE_IN_PROGRESS, "Another update of this order is still being processed")
        if rec.state not in ("APPROVED", "SHIPPED"):
            raise SandboxError(E.ORDER_NOT_SHIPPABLE, f"Order in state {rec.state} cannot be shipped")
        programs.check_merchant_may_ship(rec)
        if not (number.isascii() and number.isalnum()) or len(number) > 64:
            raise SandboxError(E.INVALID_TRACKING_NUMBER, "Tracking number must contain only letters and digits")
        carrier = canonical_carrier(provider)
        if carrier is None:
            raise SandboxError(E.CARRIER_NOT_ACCEPTED, f"Shipping provider {provider!r} is not accepted by Wish")
        doc = orjson.loads(rec.raw)
        others = self._tracking_index.get(number, set()) - {rec.id}
        if others:
            mine = _recipient_key(doc)
            for other_id in others:
                other = self._orders.get(other_id)
                if other is None:
                    continue
                other_doc = orjson.loads(other.raw)
                if _recipient_key(other_doc) != mine or abs(other.released_ms - rec.released_ms) > (
                    SHARED_TRACKING_WINDOW_MS
                ):
                    raise SandboxError(
                        E.TRACKING_NUMBER_IN_USE,
                        "Tracking number is already used by an order with another recipient or released "
                        "more than 5 days apart",
                    )
        return number, carrier, origin, note

    def _on_tracking_processed(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        rec = self._orders.get(order_id)
        if rec is None:
            return
        pending = self._pending_tracking.get(order_id)
        if pending is None:  # restored from a state file: the last write wins, as before profiles
            if rec.write_seq != data["seq"]:
                return
        elif data["entry"] not in pending:  # superseded by a later write (busy: last_wins)
            return
        else:
            pending.remove(data["entry"])
        profile = self.write_profile
        doc = orjson.loads(rec.raw)
        entry = self._writes[order_id][data["entry"]]
        carrier = data["carrier"]
        country = str(doc.get("full_address", {}).get("shipping_detail", {}).get("country_code", ""))
        cdp = "CONFIRMED_DELIVERY_POLICY" in (doc.get("fulfillment_order_types") or ())
        failure = None
        if not carrier_serves(carrier, country):
            failure = (E.FAILED_CARRIER_DESTINATION, f"{carrier} does not deliver to {country}")
        elif cdp and carrier not in CONFIRMED_DELIVERY_CARRIERS:
            failure = (E.FAILED_CARRIER_PROGRAM, f"{carrier} is not a confirmed-delivery carrier")
        elif doc["state"] not in ("APPROVED", "SHIPPED"):
            failure = (E.ORDER_NOT_SHIPPABLE, f"Order became {doc['state']}")
        elif profile.failure_share > 0:
            draw = random.Random(f"{self.config.seed}:write-failure:{order_id}:{data['number']}").random()
            if draw < profile.failure_share:
                failure = (
                    (E.CARRIER_NOT_ACCEPTED, f"{carrier} is not accepted for this order")
                    if draw < profile.failure_share / 2
                    else (E.INVALID_TRACKING_NUMBER, f"{data['number']} is not a valid {carrier} tracking number")
                )
        if profile.name != "default":
            doc.pop("processing_failed_reason", None)
            doc["processing_source"] = "UPDATE_TRACKING"
        if failure:
            if profile.view == "new":
                doc["tracking_information"] = data["previous"]
            if profile.name != "default":
                doc["processing_failed_reason"] = failure[1]
            doc["processing_status"] = "IN_PROGRESS" if pending else "FAILED"
            self._tracking_index.get(data["number"], set()).discard(order_id)
            entry.update(processing_status="FAILED", code=failure[0], message=failure[1])
            self._save(rec, doc, at)
            if doc["state"] == "APPROVED":
                ship_by = self._expected_ship_ms(doc)
                if ship_by is not None and ship_by <= at:
                    self._schedule(at, "ship_deadline", order_id, due=ship_by)
            return
        if profile.view != "new" and "tracking" in data:
            current = list(doc.get("tracking_information") or [])
            doc["tracking_information"] = [data["tracking"], *current][:2]
        doc["processing_status"] = "IN_PROGRESS" if pending else "SUCCEEDED"
        entry.update(processing_status="SUCCEEDED")
        first_shipment = doc["state"] == "APPROVED"
        if first_shipment:
            doc["state"] = "SHIPPED"
            self._records(doc).append({"event_type": "MARK_SHIPPED", "event_time": fmt_ms(at)})
        self._save(rec, doc, at)
        rec.ship_gen += 1
        self._plan_carrier(rec, doc, at, scanned=False)

    def modify_address(self, order_id: str, body: Any) -> bytes:
        """``PUT /orders/{id}/address``: only before shipping; asynchronous (MODIFY_SHIPPING)."""
        with self.lock:
            now, rec, address = self._accept_write(
                order_id, "address", body, lambda rec, _now: self._validate_address(rec, body)
            )
            doc = orjson.loads(rec.raw)
            detail = doc.setdefault("full_address", {}).setdefault("shipping_detail", {})
            for key in ("street_address2", "street_address3", "region"):
                detail.pop(key, None)
            detail.update(address)
            return self._queue_write(rec, doc, now, "address", body, "MODIFY_SHIPPING")

    def _validate_address(self, rec: OrderRec, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "request body must be a JSON object")
        for name in ("street_address1", "city", "state", "zipcode", "country_code"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                raise SandboxError(E.INVALID_PARAMETER, f"{name} is required")
        if not _ISO2.match(body["country_code"]):
            raise SandboxError(E.INVALID_PARAMETER, "country_code must be an ISO 3166 alpha-2 code")
        phone = body.get("phone_number")
        if phone is not None and (not isinstance(phone, dict) or not isinstance(phone.get("number"), str)):
            raise SandboxError(E.INVALID_PARAMETER, "phone_number must be an object with a number")
        if self._in_progress(rec):
            raise SandboxError(E.WRITE_IN_PROGRESS, "Another update of this order is still being processed")
        if rec.state != "APPROVED":
            raise SandboxError(E.ADDRESS_NOT_EDITABLE, f"The address of a {rec.state} order cannot be changed")
        doc = orjson.loads(rec.raw)
        current = doc.get("full_address", {}).get("shipping_detail", {}).get("country_code")
        if current and current != body["country_code"]:
            raise SandboxError(E.COUNTRY_CHANGE_NOT_ALLOWED, "The destination country cannot be changed")
        allowed = (
            "street_address1",
            "street_address2",
            "street_address3",
            "city",
            "state",
            "zipcode",
            "country_code",
            "country",
            "region",
            "phone_number",
        )
        return {k: copy.deepcopy(body[k]) for k in allowed if k in body}

    def refund_reasons(self, order_id: str) -> list[str]:
        """``GET /orders/{id}/refund_reasons``: the refund reasons the order's state allows now."""
        with self.lock:
            self.tick()
            return self._refund_reasons(self._rec(order_id))

    def _refund_reasons(self, rec: OrderRec) -> list[str]:
        if rec.state == "APPROVED":
            return list(REASONS_BEFORE_SHIPPING)
        if rec.state == "SHIPPED":
            doc = orjson.loads(rec.raw)
            if self._has_record(doc, "CONFIRMED_DELIVERED"):
                return list(REASONS_AFTER_DELIVERY)
            return list(REASONS_IN_TRANSIT)
        return []

    def refund(self, order_id: str, body: Any) -> bytes:
        """``PUT /orders/{id}/refund``: needs a reason valid for the order's stage; asynchronous."""
        with self.lock:
            now, rec, (reason, note) = self._accept_write(
                order_id, "refund", body, lambda rec, _now: self._validate_refund(rec, body)
            )
            doc = orjson.loads(rec.raw)
            return self._queue_write(rec, doc, now, "refund", body, "REFUND", refund={"reason": reason, "note": note})

    def _validate_refund(self, rec: OrderRec, body: Any) -> tuple[str, str | None]:
        """The refund's reason and note, when the body and the order's stage allow them."""
        if not isinstance(body, dict):
            raise SandboxError(E.INVALID_PARAMETER, "request body must be a JSON object")
        reason = body.get("refund_reason")
        note = body.get("refund_reason_note")
        if reason not in REFUND_REASONS:
            raise SandboxError(E.INVALID_PARAMETER, "refund_reason must be a valid refund reason")
        if note is not None and (not isinstance(note, str) or not note):
            raise SandboxError(E.INVALID_PARAMETER, "refund_reason_note must be a non-empty string")
        if self._in_progress(rec):
            raise SandboxError(E.WRITE_IN_PROGRESS, "Another update of this order is still being processed")
        valid = self._refund_reasons(rec)
        if not valid:
            raise SandboxError(E.ORDER_NOT_REFUNDABLE, f"A {rec.state} order cannot be refunded")
        if reason not in valid:
            raise SandboxError(E.REFUND_REASON_INVALID, f"{reason} is not a valid refund reason for this order now")
        return reason, note

    def _on_write_processed(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        rec = self._orders.get(order_id)
        if rec is None or rec.write_seq != data["seq"]:
            return
        doc = orjson.loads(rec.raw)
        doc["processing_status"] = "SUCCEEDED"
        self._writes[order_id][data["entry"]]["processing_status"] = "SUCCEEDED"
        refund = data.get("refund")
        if refund:
            value = self._order_value(doc)
            item: dict[str, Any] = {
                "refund_reason": refund["reason"],
                "refund_source": "MERCHANT",
                "refund_time": fmt_ms(at),
                "refund_amount": _money(value, programs.doc_currency(doc)),
                "merchant_responsible_amount": _money(value, programs.doc_currency(doc)),
            }
            if refund.get("note"):
                item["refund_reason_note"] = refund["note"]
            doc.setdefault("refunds", []).append(item)
            doc["state"] = "REFUNDED"
            rec.ship_gen += 1  # the carrier's future events no longer matter
        self._save(rec, doc, at)

    def shipping_carriers(self, order_type: str | None, dest_country: str | None) -> list[dict[str, str]]:
        """``GET /orders/shipping_carriers``: the carriers accepted for an order type and destination.

        ``CONFIRMED_DELIVERY`` needs ``dest_country`` (an ISO alpha-2 code), since only some carriers
        confirm delivery to a given country; ``GENERAL`` accepts every carrier.
        """
        if order_type not in ("GENERAL", "CONFIRMED_DELIVERY"):
            raise SandboxError(E.INVALID_PARAMETER, "order_type must be GENERAL or CONFIRMED_DELIVERY")
        if order_type == "CONFIRMED_DELIVERY":
            if not dest_country:
                raise SandboxError(E.INVALID_PARAMETER, "dest_country_code is required for CONFIRMED_DELIVERY")
            if not _ISO2.match(dest_country):
                raise SandboxError(E.INVALID_PARAMETER, "dest_country_code must be an ISO 3166 alpha-2 code")
        return [{"name": name} for name in carriers_for(order_type, dest_country)]

    def writes(self, order_id: str) -> list[dict[str, Any]]:
        """The order's writes log (every write accepted, rejected or no-op, in order), as a copy."""
        with self.lock:
            self.tick()
            return copy.deepcopy(self._writes.get(order_id, []))

    def make_labels(self, order_ids: list[str], carrier: str) -> list[dict[str, Any]]:
        """Carrier-format tracking numbers for the given orders (deterministic by seed)."""
        with self.lock:
            self.tick()
            name = canonical_carrier(carrier) if isinstance(carrier, str) else None
            if name is None:
                raise SandboxError(E.CARRIER_NOT_ACCEPTED, f"Shipping provider {carrier!r} is not accepted by Wish")
            labels = []
            for oid in order_ids:
                rec = self._rec(oid)
                self._label_counter += 1
                rng = random.Random(f"{self.config.seed}:label:{self._label_counter}")
                doc = orjson.loads(rec.raw)
                detail = doc.get("full_address", {}).get("shipping_detail", {})
                var = next(
                    (v for v in self.catalog if v.variation_id == doc["product_information"].get("variation_id")), None
                )
                qty = doc.get("order_payment", {}).get("general_payment_details", {}).get("product_quantity", 1)
                weight = (var.weight_grams if var else 250) * max(int(qty or 1), 1)
                labels.append(
                    {
                        "order_id": oid,
                        "carrier": name,
                        "tracking_number": make_tracking_number(name, rng),
                        "dest_country_code": detail.get("country_code"),
                        "weight_grams": weight,
                        "cost": {"amount": label_cost(weight), "currency_code": "USD"},
                    }
                )
            return labels
