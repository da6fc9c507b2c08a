"""Bulk actions at one instant: many tickets or penalties sharing one timestamp (saturated ties).

Wish acts in bulk (a nightly sweep penalising every late order, a support macro touching many
tickets), so more records than a page holds can share one ``updated_at``/``created_at``. These
helpers build such ties for tests; they use the sandbox's own ticket and penalty machinery, so the
records look exactly like clock-driven ones (a penalty is named by its order, whose ``updated_at``
moves to the penalty's instant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from .core import TICKET_STATES
from .timeutil import fmt_ms

if TYPE_CHECKING:
    from .core import Sandbox


def open_tickets_at(
    sandbox: Sandbox, order_ids: Sequence[str], at_ms: int, states: Sequence[str] = ("AWAITING_MERCHANT",)
) -> list[str]:
    """A ticket on each order, all opened and updated at ``at_ms``, states cycling through ``states``."""
    for state in states:
        if state not in TICKET_STATES:
            raise ValueError(f"unknown ticket state {state!r}")
    ids = []
    with sandbox.lock:
        for i, order_id in enumerate(order_ids):
            tid = sandbox.open_ticket(order_id, "OTHER", at_ms=at_ms)
            ticket = sandbox._tickets[tid]
            ticket["state"] = states[i % len(states)]
            if ticket["state"] in ("CLOSED", "PERMANENTLY_CLOSED"):
                ticket["resolution_info"] = {"closed_at": fmt_ms(at_ms), "closed_by": "WISH_SUPPORT"}
            ids.append(tid)
    return ids


def penalise_at(
    sandbox: Sandbox, order_ids: Sequence[str], at_ms: int, reason: str = "LATE_CONFIRMED_FULFILLMENT"
) -> list[str]:
    """A penalty on each order, all created at ``at_ms`` (the order names it and is updated then)."""
    ids = []
    with sandbox.lock:
        for order_id in order_ids:
            rec = sandbox._rec(order_id)
            doc = orjson.loads(rec.raw)
            penalty_id = sandbox._add_penalty(at_ms, order_id, reason, 1.0)
            doc.setdefault("penalties", []).append(penalty_id)
            sandbox._save(rec, doc, at_ms)
            ids.append(penalty_id)
    return ids
