"""What the outbox is waiting for: writes still pending at Wish, and those pending for too long.

A write whose outcome no read-back has proven stays pending (``submitting`` parked for a read-back, or
``submitted`` being followed) for as long as Wish may still be processing it. It never blocks other
orders and is never resent with another number; once it has been pending longer than the write
policy's ``overdue`` horizon, ``wishflow ship status`` lists it so that a person can look at the order
in Wish.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from wishflow.shipping.outbox import State, utcnow
from wishflow.warehouse.shipping_schema import shipments

PENDING_STATES = (State.SUBMITTING.value, State.SUBMITTED.value)


def pending_writes(engine: Engine, store: str) -> list[dict[str, Any]]:
    """Every write sent to Wish whose outcome is not proven yet, oldest send first."""
    stmt = (
        select(
            shipments.c.order_id,
            shipments.c.kind,
            shipments.c.state,
            shipments.c.tracking_number,
            shipments.c.sent_at,
            shipments.c.attempts,
            shipments.c.wish_processing_status,
            shipments.c.last_error,
        )
        .where(
            shipments.c.store == store,
            shipments.c.state.in_(PENDING_STATES),
            shipments.c.sent_at.is_not(None),
        )
        .order_by(shipments.c.sent_at, shipments.c.order_id)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def overdue_writes(
    engine: Engine, store: str, *, overdue: timedelta, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Pending writes sent longer than ``overdue`` ago, with how long they have been pending."""
    now = now or utcnow()
    out = []
    for row in pending_writes(engine, store):
        age = now - row["sent_at"]
        if age >= overdue:
            out.append({**row, "pending_hours": round(age.total_seconds() / 3600, 2)})
    return out


def other_writes(engine: Engine, store: str) -> dict[str, dict[str, int]]:
    """Address changes and refunds of ``store`` by state (the other kinds of the one write path)."""
    from wishflow.warehouse.shipping_schema import address_changes, refund_requests

    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for name, table in (("address_changes", address_changes), ("refunds", refund_requests)):
            rows = conn.execute(
                select(table.c.state, func.count()).where(table.c.store == store).group_by(table.c.state)
            ).all()
            out[name] = {state: int(n) for state, n in rows}
    return out


def pending_count(engine: Engine, store: str) -> int:
    """Rows of ``store`` sent to Wish but not yet settled (a pending state with ``sent_at`` stamped)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(
                    shipments.c.store == store,
                    shipments.c.state.in_(PENDING_STATES),
                    shipments.c.sent_at.is_not(None),
                )
            ).scalar_one()
        )


__all__ = ["PENDING_STATES", "other_writes", "overdue_writes", "pending_count", "pending_writes"]
