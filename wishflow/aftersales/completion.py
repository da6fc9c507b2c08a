"""Order completion: a derived status with its own timestamp.

A delivered order is *completed* once ``quiet_period`` has passed since delivery with no refund and
no open ticket; ``completed_at`` is delivery + the quiet period, or the close of the order's last
ticket if later (so it does not depend on when the job ran). A later refund or a (re)opened ticket
revokes completion (``revoked_at``); it is granted again if the ticket closes without a refund.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from wishflow.aftersales.common import write_changed
from wishflow.aftersales.tickets import OPEN_STATES
from wishflow.warehouse.aftersales_schema import order_completions, refunds, tickets
from wishflow.warehouse.schema import orders

DEFAULT_QUIET_PERIOD = timedelta(days=7)


@dataclass
class CompletionResult:
    """What a completion run did: orders marked complete, completions revoked, and which orders."""

    completed: int = 0
    revoked: int = 0
    completed_order_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready values, for the flow's return value and the CLI."""
        return {
            "completed": self.completed,
            "revoked": self.revoked,
            "completed_order_ids": self.completed_order_ids,
        }


def _ticket_facts(conn: Any, store: str) -> tuple[set[str], dict[str, datetime]]:
    """Orders with an open ticket, and the latest ticket close per order."""
    open_orders: set[str] = set()
    last_close: dict[str, datetime] = {}
    for order_ids, state, closed_at in conn.execute(
        select(tickets.c.order_ids, tickets.c.state, tickets.c.closed_at).where(
            tickets.c.store == store, tickets.c.order_ids.is_not(None)
        )
    ):
        for order_id in order_ids.split(","):
            if state in OPEN_STATES:
                open_orders.add(order_id)
            elif closed_at is not None and (order_id not in last_close or closed_at > last_close[order_id]):
                last_close[order_id] = closed_at
    return open_orders, last_close


def update_completions(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    quiet_period: timedelta = DEFAULT_QUIET_PERIOD,
    loaded_at: datetime | None = None,
) -> CompletionResult:
    """Complete delivered orders past the quiet period; revoke completions a refund or ticket undid."""
    loaded_at = loaded_at or datetime.now(UTC)
    days = quiet_period.total_seconds() / 86400
    rule = f"delivered + {days:g} days, no refund, no open ticket"
    result = CompletionResult()
    with engine.begin() as conn:
        open_orders, last_close = _ticket_facts(conn, store)
        refunded = set(conn.execute(select(refunds.c.order_id).where(refunds.c.store == store).distinct()).scalars())
        current = {
            r["order_id"]: dict(r)
            for r in conn.execute(select(order_completions).where(order_completions.c.store == store)).mappings()
        }
        candidates = conn.execute(
            select(orders.c.order_id, orders.c.delivered_at, orders.c.state, orders.c.refunded_at).where(
                orders.c.store == store,
                orders.c.delivered_at.is_not(None),
                orders.c.delivered_at <= now - quiet_period,  # every completion is at least this old
            )
        ).all()
        rows = []
        for order_id, delivered_at, state, refunded_at in candidates:
            existing = current.get(order_id)
            blocked = None
            if order_id in refunded or refunded_at is not None or state == "REFUNDED":
                blocked = "refund"
            elif order_id in open_orders:
                blocked = "ticket"
            if blocked:
                if existing is not None and existing["revoked_at"] is None:
                    rows.append({**existing, "revoked_at": now, "revoked_reason": blocked})
                    result.revoked += 1
                continue
            completed_at = delivered_at + quiet_period
            closed = last_close.get(order_id)
            if closed is not None and closed > completed_at:
                completed_at = closed
            if completed_at > now:
                continue
            row = {
                "store": store,
                "order_id": order_id,
                "completed_at": completed_at,
                "delivered_at": delivered_at,
                "rule": rule,
                "revoked_at": None,
                "revoked_reason": None,
            }
            if existing is None or existing["revoked_at"] is not None:
                result.completed += 1
                result.completed_order_ids.append(order_id)
            if existing is not None and existing["revoked_at"] is None:
                row["completed_at"] = existing["completed_at"]  # completion, once granted, keeps its time
                row["rule"] = existing["rule"]
            rows.append(row)
        write_changed(conn, order_completions, ("store", "order_id"), rows, loaded_at=loaded_at)
    return result


def completed_orders(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Orders currently completed (not revoked)."""
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                select(order_completions).where(
                    order_completions.c.store == store, order_completions.c.revoked_at.is_(None)
                )
            ).mappings()
        ]
