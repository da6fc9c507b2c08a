"""Refunds: one row per entry of the order payloads' ``refunds`` list (Wish has no refunds API)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import Engine, exists, select

from wishflow.aftersales.common import write_changed
from wishflow.orders.flatten import parse_wish_time
from wishflow.warehouse.aftersales_schema import refunds
from wishflow.warehouse.schema import orders

CHUNK = 1000


def _money(obj: Any) -> tuple[Decimal | None, str | None]:
    if not isinstance(obj, dict):
        return None, None
    try:
        amount = None if obj.get("amount") is None else Decimal(str(obj["amount"]))
    except (InvalidOperation, ValueError):
        amount = None
    currency = obj.get("currency_code")
    return amount, currency if isinstance(currency, str) else None


def refund_rows(
    store: str, order_id: str, payload: Mapping[str, Any], order_updated_at: datetime, delivered_at: datetime | None
) -> list[dict[str, Any]]:
    """The refunds of one order payload as ``refunds`` rows."""
    entries = payload.get("refunds")
    if not isinstance(entries, list):
        return []
    rows = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        amount, currency = _money(entry.get("refund_amount"))
        responsible, responsible_currency = _money(entry.get("merchant_responsible_amount"))
        refunded_at = parse_wish_time(entry.get("refund_time"))
        rows.append(
            {
                "store": store,
                "order_id": order_id,
                "refund_index": index,
                "refunded_at": refunded_at,
                "refund_reason": entry.get("refund_reason"),
                "refund_reason_note": entry.get("refund_reason_note"),
                "refund_source": entry.get("refund_source"),
                "refund_amount": amount,
                "merchant_responsible_amount": responsible,
                "currency_code": currency or responsible_currency,
                "after_delivery": bool(delivered_at and refunded_at and refunded_at >= delivered_at),
                "order_updated_at": order_updated_at,
                "raw": entry,
            }
        )
    return rows


@dataclass
class RefundSync:
    """What a refund sync read and recorded, for the flow's result and the digest."""

    orders_read: int = 0
    inserted: int = 0
    updated: int = 0
    new_refunds: list[dict[str, Any]] | None = None

    def to_json(self) -> dict[str, Any]:
        """The counts as JSON-ready values, for the flow's return value and the CLI."""
        return {
            "orders_read": self.orders_read,
            "inserted": self.inserted,
            "updated": self.updated,
            "new_refunds": self.new_refunds or [],
        }


def sync_refunds(engine: Engine, store: str, *, now: datetime | None = None) -> RefundSync:
    """Record the refunds of every refunded order whose payload is newer than its refunds rows."""
    loaded_at = now or datetime.now(UTC)
    stale = select(orders.c.order_id).where(
        orders.c.store == store,
        orders.c.refunded_at.is_not(None),
        ~exists().where(
            refunds.c.store == orders.c.store,
            refunds.c.order_id == orders.c.order_id,
            refunds.c.order_updated_at >= orders.c.updated_at,
        ),
    )
    result = RefundSync(new_refunds=[])
    with engine.connect() as conn:
        ids = sorted(conn.execute(stale).scalars())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            query = select(orders.c.order_id, orders.c.updated_at, orders.c.delivered_at, orders.c.raw).where(
                orders.c.store == store, orders.c.order_id.in_(chunk)
            )
            for order_id, updated_at, delivered_at, raw in conn.execute(query):
                payload = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
                rows.extend(refund_rows(store, order_id, payload or {}, updated_at, delivered_at))
                result.orders_read += 1
            inserted, updated = write_changed(
                conn,
                refunds,
                ("store", "order_id", "refund_index"),
                rows,
                loaded_at=loaded_at,
                newer_than="order_updated_at",
            )
            result.inserted += inserted
            result.updated += updated
            if inserted:
                assert result.new_refunds is not None
                result.new_refunds.extend(
                    {
                        "order_id": r["order_id"],
                        "refunded_at": r["refunded_at"].isoformat() if r["refunded_at"] else None,
                        "reason": r["refund_reason"],
                        "source": r["refund_source"],
                        "amount": str(r["refund_amount"]) if r["refund_amount"] is not None else None,
                        "after_delivery": r["after_delivery"],
                    }
                    for r in rows
                )
    return result
