"""Penalties: new ones by ``created_at`` and reversals by ``reversed_at``, each with its own cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine

from wishflow.aftersales.common import write_changed
from wishflow.api.after_sales import get_penalty, penalty_pages
from wishflow.api.contract import WishApi
from wishflow.orders.flatten import parse_wish_time
from wishflow.sync.window import DEFAULT_SAFETY_LAG, cursor_after, plan_stream_window, server_clock
from wishflow.warehouse.aftersales_schema import penalties
from wishflow.warehouse.orders_writer import CursorAdvance, advance_cursor

CREATED_STREAM = "penalties"
REVERSED_STREAM = "penalties_reversed"
DEFAULT_LOOKBACK = timedelta(minutes=10)


def penalty_row(store: str, penalty: Mapping[str, Any]) -> dict[str, Any]:
    raw_money = penalty.get("penalty_amount")
    money: dict[str, Any] = raw_money if isinstance(raw_money, dict) else {}
    try:
        amount = Decimal(str(money["amount"])) if money.get("amount") is not None else None
    except (InvalidOperation, ValueError):
        amount = None
    entity_type = penalty.get("related_entity_type")
    entity_id = penalty.get("related_entity_id")
    return {
        "store": store,
        "penalty_id": str(penalty["id"]),
        "penalty_reason": penalty.get("penalty_reason"),
        "related_entity_type": entity_type,
        "related_entity_id": entity_id,
        "order_id": entity_id if entity_type == "ORDER" else None,
        "penalty_amount": amount,
        "currency_code": money.get("currency_code"),
        "created_at": parse_wish_time(penalty.get("created_at")),
        "reversed": bool(penalty.get("reversed")),
        "reversed_at": parse_wish_time(penalty.get("reversed_at")),
        "raw": dict(penalty),
    }


@dataclass
class PenaltySync:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    new_penalties: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "inserted": self.inserted,
            "updated": self.updated,
            "new_penalties": self.new_penalties,
        }


def record_penalties(
    engine: Engine,
    store: str,
    payloads: Sequence[Mapping[str, Any]],
    *,
    loaded_at: datetime,
    cursor: CursorAdvance | None = None,
    result: PenaltySync | None = None,
) -> PenaltySync:
    result = result or PenaltySync()
    rows = [penalty_row(store, p) for p in payloads if isinstance(p, Mapping) and p.get("id")]
    with engine.begin() as conn:
        inserted, updated = write_changed(conn, penalties, ("store", "penalty_id"), rows, loaded_at=loaded_at)
        if cursor is not None:
            advance_cursor(conn, store, cursor, None, loaded_at)
    result.fetched += len(payloads)
    result.inserted += inserted
    result.updated += updated
    return result


def sync_penalties(
    client: WishApi,
    engine: Engine,
    store: str,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    page_size: int = 500,
    now: datetime | None = None,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> PenaltySync:
    """Record penalties created and reversed since the last sync (idempotent). Windows and cursors
    follow the rules every stream shares (:mod:`wishflow.sync.window`)."""
    loaded_at = now or datetime.now(UTC)
    result = PenaltySync()
    server_now = server_clock(client)
    for stream, by in ((CREATED_STREAM, "created_at"), (REVERSED_STREAM, "reversed_at")):
        window = plan_stream_window(
            engine, store, stream, server_now=server_now, lookback=lookback, safety_lag=safety_lag
        )
        for page in penalty_pages(client, since=window.start, until=window.end, by=by, limit=page_size):
            advance = cursor_after(stream, (parse_wish_time(p.get(by)) for p in page), window.end)
            before = result.inserted
            record_penalties(engine, store, page, loaded_at=loaded_at, cursor=advance, result=result)
            if result.inserted > before and by == "created_at":
                result.new_penalties.extend(
                    {
                        "penalty_id": p.get("id"),
                        "reason": p.get("penalty_reason"),
                        "order_id": p.get("related_entity_id") if p.get("related_entity_type") == "ORDER" else None,
                        "amount": (p.get("penalty_amount") or {}).get("amount"),
                        "created_at": p.get("created_at"),
                    }
                    for p in page
                )
    return result


def fetch_penalties(client: WishApi, engine: Engine, store: str, penalty_ids: Sequence[str]) -> PenaltySync:
    """Read specific penalties by id (e.g. ids an order payload refers to) and record them."""
    payloads = [get_penalty(client, pid) for pid in penalty_ids]
    return record_penalties(engine, store, payloads, loaded_at=datetime.now(UTC))
