"""After-sales: customer tickets and merchant penalties (with their reversals)."""

from __future__ import annotations

import copy
import random
from typing import Any

import orjson

from . import errors as E
from . import programs
from .auth import AuthPart
from .data import object_id
from .errors import SandboxError
from .model import TICKET_STATES, TICKET_TYPES, _money, is_object_id
from .query import _bounds, _parse_limit, _parse_multi, _parse_sort
from .timeutil import DAY_MS, fmt_ms


class AfterSalesPart(AuthPart):
    """Tickets (opened, answered, closed) and penalties (added, listed, reversed)."""

    def _on_ticket_opened(self, at: int, order_id: str, data: dict[str, Any]) -> None:
        rec = self._orders.get(order_id)
        if rec is None or rec.state != "SHIPPED" or rec.ship_gen != data.get("gen"):
            return
        doc = orjson.loads(rec.raw)
        if data["reason"] == "SHIPPING_TAKING_TOO_LONG" and self._has_record(doc, "CONFIRMED_DELIVERED"):
            return
        self.open_ticket(order_id, data["reason"], at_ms=at)

    _SUBJECTS = {
        "SHIPPING_TAKING_TOO_LONG": "Where is my order?",
        "ITEM_IS_DAMAGED": "The item arrived damaged",
        "ITEM_DOES_NOT_MATCH_LISTING": "I received the wrong item",
        "ITEM_DOES_NOT_FIT": "The item does not fit",
        "OTHER": "Question about my order",
    }

    def open_ticket(self, order_id: str, reason: str = "OTHER", *, at_ms: int | None = None) -> str:
        """Open a customer ticket on an order (clock-driven, or via the admin API)."""
        with self.lock:
            at = self.now_ms() if at_ms is None else at_ms
            rec = self._rec(order_id)
            doc = orjson.loads(rec.raw)
            rng = random.Random(f"{self.config.seed}:ticket:{len(self._tickets)}")
            tid = object_id(rng, at)
            subject = self._SUBJECTS.get(reason, self._SUBJECTS["OTHER"])
            buyer = str(doc.get("full_address", {}).get("shipping_detail", {}).get("name", "Customer"))
            self._tickets[tid] = {
                "id": tid,
                "merchant_id": self.merchant_id,
                "type": "ORDER",
                "state": "AWAITING_MERCHANT",
                "subject": subject,
                "sub_label": reason.replace("_", " ").capitalize(),
                "opened_at": fmt_ms(at),
                "updated_at": fmt_ms(at),
                "orders": [{"id": order_id}],
                "products": [{"id": doc.get("product_information", {}).get("id", order_id)}],
                "buyer_info": {"name": buyer, "locale": "en"},
                "refund_reason": reason if reason != "ITEM_DOES_NOT_FIT" else "ITEM_DOES_NOT_FIT",
                "replies": [{"sender": "USER", "message": subject, "replied_at": fmt_ms(at)}],
                "_updated_ms": at,
            }
            return tid

    def _ticket(self, ticket_id: str) -> dict[str, Any]:
        if not is_object_id(ticket_id):
            raise SandboxError(E.INVALID_PARAMETER, "id must be an object id (24 hex digits)")
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise SandboxError(E.NOT_FOUND, f"Ticket {ticket_id} not found")
        return ticket

    @staticmethod
    def _public_ticket(ticket: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in ticket.items() if not k.startswith("_")}

    def get_ticket(self, ticket_id: str) -> dict[str, Any]:
        """``GET /tickets/{id}``: one ticket as the API shows it (internal fields dropped, a copy)."""
        with self.lock:
            self.tick()
            return self._public_ticket(self._ticket(ticket_id))

    def list_tickets(self, query: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /tickets``: tickets filtered, sorted and limited by ``query`` (the parsed query string)."""
        query = query or {}
        with self.lock:
            self.tick()
            limit = _parse_limit(query, default=50, maximum=500)
            _, desc = _parse_sort(query, ("updated_at",), "updated_at")
            states = set(_parse_multi(query, "states", TICKET_STATES) or TICKET_STATES)
            types = set(_parse_multi(query, "types", TICKET_TYPES) or TICKET_TYPES)
            lo, hi = _bounds(query, "updated_at")
            items = [
                t
                for t in self._tickets.values()
                if t["state"] in states
                and t["type"] in types
                and (lo is None or t["_updated_ms"] >= lo)
                and (hi is None or t["_updated_ms"] <= hi)
            ]
            items.sort(key=lambda t: (t["_updated_ms"], t["id"]), reverse=desc)
            return [self._public_ticket(t) for t in items[:limit]]

    def update_ticket(self, ticket_id: str, body: Any) -> dict[str, Any]:
        """``PUT /tickets/{id}``: close, re-open or appeal a ticket (``body["state"]``).

        Only Wish's allowed transitions are accepted; any other raises ``TICKET_STATE_CHANGE_INVALID``.
        Closing records the merchant as the closer; any other state drops the resolution.
        """
        with self.lock:
            now = self.tick()
            ticket = self._ticket(ticket_id)
            state = body.get("state") if isinstance(body, dict) else None
            if state not in ("CLOSED", "AWAITING_MERCHANT", "AWAITING_WISH"):
                raise SandboxError(E.INVALID_PARAMETER, "state must be CLOSED, AWAITING_MERCHANT or AWAITING_WISH")
            current = ticket["state"]
            allowed = {
                "CLOSED": {"AWAITING_MERCHANT", "AWAITING_USER", "AWAITING_WISH"},
                "AWAITING_MERCHANT": {"CLOSED"},  # re-open
                "AWAITING_WISH": {"AWAITING_MERCHANT", "AWAITING_USER"},  # appeal to Wish support
            }[state]
            if current not in allowed:
                raise SandboxError(E.TICKET_STATE_CHANGE_INVALID, f"A ticket in state {current} cannot become {state}")
            ticket["state"] = state
            if state == "CLOSED":
                ticket["resolution_info"] = {"closed_at": fmt_ms(now), "closed_by": "MERCHANT"}
            else:
                ticket.pop("resolution_info", None)
            self._touch_ticket(ticket, now)
            return self._public_ticket(ticket)

    def reply_ticket(self, ticket_id: str, body: Any) -> dict[str, Any]:
        """``POST /tickets/{id}/replies``: the merchant's reply to a ticket awaiting the merchant.

        The ticket then awaits the user, who closes it a day later unless something else happens first
        (the scheduled ``ticket_user_closes`` event).
        """
        with self.lock:
            now = self.tick()
            ticket = self._ticket(ticket_id)
            message = body.get("message") if isinstance(body, dict) else None
            if not isinstance(message, str) or not message.strip():
                raise SandboxError(E.INVALID_PARAMETER, "message is required")
            if ticket["state"] != "AWAITING_MERCHANT":
                raise SandboxError(
                    E.TICKET_NOT_AWAITING_MERCHANT, "You can only reply to a ticket awaiting the merchant"
                )
            reply = {"sender": "MERCHANT", "message": message, "replied_at": fmt_ms(now), "supporting_files": []}
            ticket["replies"].append(reply)
            ticket["state"] = "AWAITING_USER"
            self._touch_ticket(ticket, now)
            self._schedule(now + DAY_MS, "ticket_user_closes", ticket_id, replies=len(ticket["replies"]))
            return copy.deepcopy(reply)

    def _touch_ticket(self, ticket: dict[str, Any], at: int) -> None:
        ticket["_updated_ms"] = max(at, ticket["_updated_ms"])
        ticket["updated_at"] = fmt_ms(ticket["_updated_ms"])

    def _on_ticket_user_closes(self, at: int, ticket_id: str, data: dict[str, Any]) -> None:
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket["state"] != "AWAITING_USER" or len(ticket["replies"]) != data["replies"]:
            return
        ticket["replies"].append({"sender": "USER", "message": "Thank you!", "replied_at": fmt_ms(at)})
        ticket["state"] = "CLOSED"
        ticket["resolution_info"] = {"closed_at": fmt_ms(at), "closed_by": "USER"}
        self._touch_ticket(ticket, at)

    def _add_penalty(self, at: int, order_id: str, reason: str, amount: float) -> str:
        rng = random.Random(f"{self.config.seed}:penalty:{len(self._penalties)}")
        pid = object_id(rng, at)
        amount = round(amount, 2)
        self._penalties[pid] = {
            "id": pid,
            "penalty_reason": reason,
            "related_entity_type": "ORDER",
            "related_entity_id": order_id,
            "penalty_amount": _money(amount),  # the spec's only amount (no top-level amount/currency_code)
            "created_at": fmt_ms(at),
            "reversed": False,
            "_created_ms": at,
        }
        programs.on_penalty(self, pid, at)  # the order's currency; a reversal under a data profile
        return pid

    def _on_penalty_reversed(self, at: int, penalty_id: str, _data: dict[str, Any]) -> None:
        programs.reverse_penalty(self, at, penalty_id)

    def get_penalty(self, penalty_id: str) -> dict[str, Any]:
        """``GET /penalties/{id}``: one penalty as the API shows it (internal fields dropped, a copy)."""
        with self.lock:
            self.tick()
            if not is_object_id(penalty_id):
                raise SandboxError(E.INVALID_PARAMETER, "id must be an object id (24 hex digits)")
            penalty = self._penalties.get(penalty_id)
            if penalty is None:
                raise SandboxError(E.NOT_FOUND, f"Penalty {penalty_id} not found")
            return self._public_ticket(penalty)

    def _filtered_penalties(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        c_lo, c_hi = _bounds(query, "created_at")
        r_lo, r_hi = _bounds(query, "reversed_at")
        out = []
        for p in self._penalties.values():
            created = p["_created_ms"]
            if (c_lo is not None and created < c_lo) or (c_hi is not None and created > c_hi):
                continue
            reversed_ms = p.get("_reversed_ms")
            if (r_lo is not None or r_hi is not None) and (
                reversed_ms is None
                or (r_lo is not None and reversed_ms < r_lo)
                or (r_hi is not None and reversed_ms > r_hi)
            ):
                continue
            out.append(p)
        return out

    def list_penalties(self, query: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /penalties``: penalties filtered by creation and reversal time, sorted and limited."""
        query = query or {}
        with self.lock:
            self.tick()
            limit = _parse_limit(query, default=100, maximum=500)
            field_name, desc = _parse_sort(query, ("created_at", "reversed_at"), "created_at")
            items = self._filtered_penalties(query)
            key = "_created_ms" if field_name == "created_at" else "_reversed_ms"
            items.sort(key=lambda p: (p.get(key) or 0, p["id"]), reverse=desc)
            return [self._public_ticket(p) for p in items[:limit]]

    def count_penalties(self, query: dict[str, list[str]] | None = None) -> int:
        """``GET /penalties/count``: how many penalties match ``query``'s time filters (no limit)."""
        with self.lock:
            self.tick()
            return len(self._filtered_penalties(query or {}))
