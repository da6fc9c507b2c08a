"""Shared vocabulary of the sandbox: Wish's enumerations, the order record, the clock, small helpers."""

from __future__ import annotations

import copy
import hashlib
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from .timeutil import DAY_MS

STATES = ("APPROVED", "SHIPPED", "REFUNDED", "REQUIRE_REVIEW", "DECLINED")
ORDER_TYPE_FILTERS = (
    "WISH_EXPRESS",
    "FULFILLED_BY_WISH",
    "FULFILLED_BY_STORE",
    "LESS_THAN_TRUCKLOAD",
    "ADVANCED_LOGISTICS",
    "WISH_PLUS",
)
REFUND_REASONS = (
    "UNABLE_TO_SHIP",
    "ITEM_RETURNED_TO_SENDER",
    "ITEM_IS_DAMAGED",
    "SHIPPING_TAKING_TOO_LONG",
    "ITEM_DOES_NOT_FIT",
    "RECEIVED_WRONG_ITEM",
    "ITEM_IS_COUNTERFEIT",
    "ITEM_DOES_NOT_WORK_AS_DESCRIBED",
    "ITEM_DOES_NOT_MATCH_LISTING",
    "ITEM_MARKED_DELIVERED_BUT_DID_NOT_ARRIVE",
    "MERCHANT_SENT_TO_WRONG_ADDRESS",
    "REPLACEMENT_NEVER_RECEIVED",
    "WRONG_COLOR",
    "ITEM_IS_POOR_QUALITY",
    "INCOMPLETE_ORDER",
    "MERCHANT_OUT_OF_STOCK",
    "EMPTY_PACKAGE",
    "PRODUCT_LISTING_MISSING_INFO",
    "ITEM_DID_NOT_MEET_EXPECTATIONS",
    "RECEIVED_NOTE_FROM_MERCHANT",
    "MERCHANT_REPORTED_ORDER",
    "MERCHANT_REPORTED_BUYER_FRAUD",
)
REASONS_BEFORE_SHIPPING = (
    "UNABLE_TO_SHIP",
    "MERCHANT_OUT_OF_STOCK",
    "PRODUCT_LISTING_MISSING_INFO",
    "MERCHANT_REPORTED_ORDER",
    "MERCHANT_REPORTED_BUYER_FRAUD",
)
REASONS_IN_TRANSIT = (
    "SHIPPING_TAKING_TOO_LONG",
    "ITEM_RETURNED_TO_SENDER",
    "MERCHANT_SENT_TO_WRONG_ADDRESS",
    "INCOMPLETE_ORDER",
    "RECEIVED_NOTE_FROM_MERCHANT",
)
REASONS_AFTER_DELIVERY = (
    "ITEM_IS_DAMAGED",
    "RECEIVED_WRONG_ITEM",
    "ITEM_DOES_NOT_FIT",
    "ITEM_DOES_NOT_MATCH_LISTING",
    "ITEM_MARKED_DELIVERED_BUT_DID_NOT_ARRIVE",
    "ITEM_IS_POOR_QUALITY",
    "ITEM_DOES_NOT_WORK_AS_DESCRIBED",
    "ITEM_IS_COUNTERFEIT",
    "WRONG_COLOR",
    "EMPTY_PACKAGE",
    "ITEM_DID_NOT_MEET_EXPECTATIONS",
)
TICKET_STATES = ("AWAITING_WISH", "AWAITING_USER", "AWAITING_MERCHANT", "CLOSED", "PERMANENTLY_CLOSED")
TICKET_TYPES = ("ORDER", "PRE_PURCHASE", "POST_CUSTOMER_SUPPORT")
SCOPES = [
    "orders:read",
    "orders:write",
    "tickets:read",
    "tickets:write",
    "penalties:read",
    "merchant:read",
]

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_ISO2 = re.compile(r"^[A-Z]{2}$")
_ID_MAX = "g"  # sorts after any lowercase hex id
SHIP_DEADLINE_MS = 5 * DAY_MS
SHARED_TRACKING_WINDOW_MS = 5 * DAY_MS
INITIAL_RELEASE_WINDOW_MS = 4 * DAY_MS


def _digest(*parts: object, length: int = 32) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:length]


def is_object_id(value: object) -> bool:
    """Whether ``value`` is a 24-hex object id, the shape of Wish's order and product ids."""
    return isinstance(value, str) and bool(_OBJECT_ID.match(value))


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``override`` merged over ``base`` (dicts merge recursively, anything else replaces).

    Nested dicts of ``base`` are copied on the way down, never changed in place (generated orders
    share some sub-objects).
    """
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _money(amount: float, currency: str = "USD") -> dict[str, Any]:
    return {"amount": round(amount, 2), "currency_code": currency}


@dataclass(slots=True)
class OrderRec:
    """The sandbox's record of one order: its index keys beside the serialised document.

    ``raw`` holds the document as JSON bytes (compact for large order counts); the other fields are
    what the indexes, the event handlers and write idempotency need without parsing it. ``ship_gen``
    counts shipments (events of an older one are stale), ``write_seq`` orders writes, and
    ``penalized`` names the penalties already applied so none is applied twice.
    """

    id: str
    state: str
    updated_ms: int
    released_ms: int
    types: tuple[str, ...]
    raw: bytes
    ship_gen: int = 0
    write_seq: int = 0
    penalized: set[str] = field(default_factory=set)


class SandboxClock:
    """Sandbox time: real time by default; settable and advanceable; optionally frozen."""

    def __init__(self, start_ms: int, running: bool) -> None:
        self._base_ms = start_ms
        self._mono = time.monotonic()
        self.running = running

    def now_ms(self) -> int:
        """The sandbox's current time in epoch milliseconds (the base time while frozen)."""
        if not self.running:
            return self._base_ms
        return self._base_ms + int((time.monotonic() - self._mono) * 1000)

    def set_ms(self, ms: int) -> None:
        """Set the current time to ``ms``; a running clock goes on from there."""
        self._base_ms = ms
        self._mono = time.monotonic()


def _dumps(doc: Any) -> bytes:
    # orjson over-allocates its output buffer; an exact-size copy keeps 100k orders ~8x smaller
    return bytes(memoryview(orjson.dumps(doc)))


def _copy_recipient(recipient: dict[str, Any]) -> dict[str, Any]:
    out = dict(recipient)
    phone = out.get("phone_number")
    if isinstance(phone, dict):
        out["phone_number"] = dict(phone)
    return out


def _recipient_key(doc: dict[str, Any]) -> tuple[str, ...]:
    detail = doc.get("full_address", {}).get("shipping_detail", {}) or {}
    return tuple(
        str(detail.get(k, "")).strip().lower()
        for k in ("name", "street_address1", "street_address2", "city", "state", "zipcode", "country_code")
    )


def now_utc() -> datetime:
    """The real current time, timezone-aware in UTC."""
    return datetime.now(UTC)
