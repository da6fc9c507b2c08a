"""Orders created through the admin API (``POST /sandbox/orders``).

From partial documents, or many default orders at once (APPROVED ones stamped from serialised
prototypes, so large counts are quick).
"""

from __future__ import annotations

import gc
import random
import re
from collections.abc import Iterator
from typing import Any

import orjson

from . import errors as E
from . import programs
from .data import object_id
from .errors import SandboxError
from .generate import GenerationPart
from .model import SHIP_DEADLINE_MS, STATES, OrderRec, deep_merge, is_object_id
from .timeutil import DAY_MS, HOUR_MS, fmt_ms, parse_ms


class CreationPart(GenerationPart):
    """``create_orders`` (partial documents merged over generated orders) and ``create_default_orders``."""

    def create_orders(self, partials: list[dict[str, Any]]) -> list[str]:
        """Create orders: each partial order JSON is deep-merged over a generated APPROVED order.

        Defaults: released now, ``updated_at`` = ``released_at``; a given ``released_at`` moves the
        order's release record and deadlines with it. Deadlines already past when the order is
        created are not enforced (no auto-refund for an order created overdue).
        """
        with self.lock:
            now = self.tick()
            docs = []
            for partial in partials:
                if not isinstance(partial, dict):
                    raise SandboxError(E.INVALID_PARAMETER, "each order must be an object")
                docs.append(self._doc_from_partial(partial, now))
            seen: set[str] = set()
            for doc in docs:
                if doc["id"] in seen or (doc["id"] in self._orders):
                    raise SandboxError(E.INVALID_PARAMETER, f"order id {doc['id']} already exists")
                seen.add(doc["id"])
            return self._add_docs(docs, now)

    def _doc_from_partial(self, partial: dict[str, Any], now: int) -> dict[str, Any]:
        state = partial.get("state", "APPROVED")
        if state not in STATES:
            raise SandboxError(E.INVALID_PARAMETER, f"unknown state {state!r}")
        try:
            released_ms = parse_ms(partial["released_at"]) if "released_at" in partial else None
            updated_ms = parse_ms(partial["updated_at"]) if "updated_at" in partial else None
        except (TypeError, ValueError) as exc:
            raise SandboxError(E.INVALID_PARAMETER, f"bad timestamp: {exc}") from None
        if released_ms is None:
            released_ms = min(now, updated_ms) if updated_ms is not None else now
        rng = self._rng
        types = partial.get("fulfillment_order_types")
        if not isinstance(types, list):
            types = self._draw_types(rng)
        recipient = self._pick_recipient(rng)
        doc = self._build_order(
            rng=rng,
            released_ms=released_ms,
            now_ms=max(now, released_ms),
            state=state,
            recipient=recipient,
            types=list(types),
            transaction_id=object_id(self._id_rng, released_ms),
            allow_defect=False,
        )
        doc = deep_merge(doc, partial)
        if updated_ms is not None:
            doc["updated_at"] = fmt_ms(updated_ms)
        if not is_object_id(doc.get("id")):
            raise SandboxError(E.INVALID_PARAMETER, "order id must be 24 lowercase hex digits")
        return doc

    def create_default_orders(
        self,
        count: int,
        *,
        template: dict[str, Any] | None = None,
        spread_seconds: float | None = None,
        mix: bool = False,
    ) -> list[str]:
        """Quickly create ``count`` generated orders (APPROVED unless ``mix``).

        They are released over the last ``spread_seconds`` (default: one second apart), with
        ``template`` deep-merged over each.
        """
        if count < 0 or count > 2_000_000:
            raise SandboxError(E.INVALID_PARAMETER, "count must be between 0 and 2000000")
        with self.lock:
            now = self.tick()
            spread_ms = int((spread_seconds if spread_seconds is not None else count) * 1000)
            rng = self._rng
            if not template and not mix:
                return self._fast_approved(count, now, spread_ms)
            template_updated = None
            if template and "updated_at" in template:
                try:
                    template_updated = fmt_ms(parse_ms(template["updated_at"]))
                except (TypeError, ValueError):
                    raise SandboxError(E.INVALID_PARAMETER, "template updated_at is not a timestamp") from None

            def docs() -> Iterator[dict[str, Any]]:
                made = i = 0
                while made < count:
                    released_ms = now - spread_ms + (spread_ms * i) // max(count, 1)
                    i += 1
                    group = self._generate_group(rng, released_ms, now, None if mix else "APPROVED", count - made)
                    for doc in group:
                        if template:
                            doc = deep_merge(doc, template)
                            if template_updated:
                                doc["updated_at"] = template_updated
                        made += 1
                        yield doc

            return self._add_docs(docs(), now)

    _MARKER = re.compile(rb"@@(ID|TX|REL|SHIP|DELIV)@@")

    def _prototypes(self) -> list[tuple[list[bytes | str], tuple[str, ...], int]]:
        """Serialised APPROVED orders with placeholders for ids and timestamps (for bulk creation)."""
        profile = programs.active(self).name
        if self._proto_cache is None or getattr(self, "_proto_profile", None) != profile:
            self._proto_profile = profile
            rng = random.Random(f"{self.config.seed}:prototypes")
            protos = []
            for _ in range(2048):
                doc = self._generate_group(rng, 0, 0, "APPROVED", 1)[0]
                programs.finish(self, doc)
                doc["id"] = "@@ID@@"
                doc["transaction_id"] = "@@TX@@"
                doc["released_at"] = doc["updated_at"] = "@@REL@@"
                doc["fulfillment_records"] = [{"event_type": "ORDER_RELEASED", "event_time": "@@REL@@"}]
                doc["fulfillment_requirements"] = {
                    "expected_ship_time": "@@SHIP@@",
                    "expected_delivery_time": "@@DELIV@@",
                }
                parts: list[bytes | str] = []
                for i, piece in enumerate(self._MARKER.split(orjson.dumps(doc))):
                    parts.append(piece.decode() if i % 2 else piece)
                types = tuple(doc["fulfillment_order_types"])
                delivery_days = 7 if "WISH_EXPRESS" in types else 30
                value = self._order_value(doc)
                protos.append((parts, types, delivery_days * DAY_MS + (0 if value < 100 else 1)))
            self._proto_cache = protos
        return self._proto_cache

    def _fast_approved(self, count: int, now: int, spread_ms: int) -> list[str]:
        """Bulk APPROVED orders stamped from prototypes: ~10x faster than full generation."""
        protos = self._prototypes()
        rng = self._rng
        ids: list[str] = []
        upd = self._idx[("updated_at", "APPROVED")]
        rel = self._idx[("released_at", "APPROVED")]
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for i in range(count):
                released_ms = now - spread_ms + (spread_ms * i) // max(count, 1)
                parts, types, extra = protos[rng.randrange(len(protos))]
                delivery_ms, big = extra - (extra % 2), extra % 2
                oid = self._new_id(released_ms)
                released = fmt_ms(released_ms)
                ship_by = released_ms + SHIP_DEADLINE_MS
                values = {
                    "ID": oid,
                    "TX": object_id(self._id_rng, released_ms),
                    "REL": released,
                    "SHIP": fmt_ms(ship_by),
                    "DELIV": fmt_ms(released_ms + delivery_ms),
                }
                raw = b"".join(p if isinstance(p, bytes) else values[p].encode() for p in parts)
                rec = OrderRec(oid, "APPROVED", released_ms, released_ms, types, raw)
                self._orders[oid] = rec
                upd.append((released_ms, oid))
                rel.append((released_ms, oid))
                if ship_by > now:
                    self._schedule(ship_by, "ship_deadline", oid, due=ship_by)
                scan_by = released_ms + (336 if big else 168) * HOUR_MS
                if scan_by > now:
                    self._schedule(scan_by, "scan_deadline", oid)
                ids.append(oid)
        finally:
            if gc_was_enabled:
                gc.enable()
            upd.sort()
            rel.sort()
        return ids
