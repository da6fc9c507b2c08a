"""Orders as the sandbox keeps them: pre-serialised JSON bytes beside a small indexed record.

Listing walks sorted ``(timestamp_ms, id)`` indexes kept per state; :meth:`OrderStore._save` is the one
place that rewrites an order and keeps those indexes right.
"""

from __future__ import annotations

import bisect
from typing import Any

from . import errors as E
from .clock import ClockAndEvents
from .errors import SandboxError
from .model import OrderRec, _dumps, is_object_id
from .timeutil import HOUR_MS, fmt_ms, parse_ms


class OrderStore(ClockAndEvents):
    """Find, save and inspect stored orders; every part changes an order through ``_save``."""

    def _rec(self, order_id: str) -> OrderRec:
        if not is_object_id(order_id):
            raise SandboxError(E.INVALID_PARAMETER, "id must be an object id (24 hex digits)")
        rec = self._orders.get(order_id)
        if rec is None:
            raise SandboxError(E.NOT_FOUND, f"Order {order_id} not found")
        return rec

    def _save(self, rec: OrderRec, doc: dict[str, Any], at_ms: int) -> None:
        """Store a changed order: bump updated_at, re-serialise, re-index."""
        at_ms = max(at_ms, rec.updated_ms)
        doc["updated_at"] = fmt_ms(at_ms)
        new_state = doc["state"]
        self._unindex(("updated_at", rec.state), (rec.updated_ms, rec.id))
        if new_state != rec.state:
            self._unindex(("released_at", rec.state), (rec.released_ms, rec.id))
            bisect.insort(self._idx[("released_at", new_state)], (rec.released_ms, rec.id))
        bisect.insort(self._idx[("updated_at", new_state)], (at_ms, rec.id))
        rec.state = new_state
        rec.updated_ms = at_ms
        rec.types = tuple(doc.get("fulfillment_order_types") or ())
        rec.raw = _dumps(doc)

    def _unindex(self, key: tuple[str, str], item: tuple[int, str]) -> None:
        keys = self._idx[key]
        i = bisect.bisect_left(keys, item)
        if i < len(keys) and keys[i] == item:
            del keys[i]

    @staticmethod
    def _records(doc: dict[str, Any]) -> list[dict[str, Any]]:
        records = doc.get("fulfillment_records")
        if not isinstance(records, list):
            records = doc["fulfillment_records"] = []
        return records

    @staticmethod
    def _has_record(doc: dict[str, Any], kind: str) -> bool:
        return any(isinstance(r, dict) and r.get("event_type") == kind for r in doc.get("fulfillment_records") or ())

    @staticmethod
    def _expected_ship_ms(doc: dict[str, Any]) -> int | None:
        try:
            return parse_ms(doc["fulfillment_requirements"]["expected_ship_time"])
        except (KeyError, TypeError, ValueError):
            return None

    @staticmethod
    def _order_value(doc: dict[str, Any]) -> float:
        try:
            return float(doc["order_payment"]["general_payment_details"]["payment_total"]["amount"])
        except (KeyError, TypeError, ValueError):
            return 0.0

    def _scan_window_ms(self, doc: dict[str, Any]) -> int:
        return (168 if self._order_value(doc) < 100 else 336) * HOUR_MS

    def _in_progress(self, rec: OrderRec) -> bool:
        return bool(self._pending_tracking.get(rec.id)) or b'"processing_status":"IN_PROGRESS"' in rec.raw
