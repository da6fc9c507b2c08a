"""Records read outside their stream's window are recorded *and* flagged, never skipped.

An order whose ``updated_at`` is later than Wish's own clock (clock skew at Wish, or bad data) lies
after every window a pull plans (windows end a safety lag before Wish's now), so a pull that only
read its window would never see it. The pull sweeps past the window's end once per run, records
those orders like any other, and flags each one here: a ``rejected_records`` row under the source
:data:`FUTURE_SOURCE` whose reason names the order's date and Wish's clock. The row is upserted
(re-reading the order next run only moves ``last_seen_at``), and the incremental cursor never moves
onto a future date (it would skip every order updated between now and then).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine

from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.records import OrderRecord, payload_of
from wishflow.warehouse.bulk import dialect_insert, write_transaction
from wishflow.warehouse.schema import rejected_records

#: ``rejected_records.source`` of an order recorded although dated after Wish's clock.
FUTURE_SOURCE = "orders:future_updated_at"


def future_dated(records: Sequence[Any], server_now: datetime) -> list[dict[str, Any]]:
    """The records whose ``updated_at`` is after ``server_now``, as dicts (a page's typed records too)."""
    out = []
    for record in records:
        if not isinstance(record, dict | OrderRecord) or not isinstance(record.get("id"), str):
            continue
        updated = parse_wish_time(record.get("updated_at"))
        if updated is not None and updated > server_now:
            out.append(payload_of(record))
    return out


def flag_future_orders(
    bind: Engine | Connection, store: str, records: Sequence[Any], server_now: datetime, *, run_id: str | None = None
) -> int:
    """Flag the records dated after ``server_now`` (they are recorded in ``orders`` by the caller)."""
    flagged = future_dated(records, server_now)
    if not flagged:
        return 0
    now = datetime.now(UTC)
    rows = [
        {
            "store": store,
            "source": FUTURE_SOURCE,
            "record_key": record["id"][:128],
            "order_id": record["id"][:64],
            "reason": (
                f"updated_at {record.get('updated_at')} is after Wish's clock ({format_wish_time(server_now)}) "
                "when it was read: recorded, but check the order's dates"
            ),
            "raw": orjson.dumps(record).decode(),
            "first_seen_at": now,
            "last_seen_at": now,
            "run_id": run_id,
            "resolved_at": None,
            "_loaded_at": now,
        }
        for record in flagged
    ]
    upsert_flags(bind, rows, keep_raw=False)
    return len(flagged)


def upsert_flags(bind: Engine | Connection, rows: Sequence[dict[str, Any]], *, keep_raw: bool) -> None:
    """Write ``rejected_records`` flags, one row per (store, source, record key) however often seen.

    A flag seen again refreshes its reason, last sighting and run, never its first sighting, so a
    re-read never adds rows. ``keep_raw`` keeps the first sighting's ``raw`` (a group's key, which
    names the group) instead of the latest record's.
    """
    if not rows:
        return
    with write_transaction(bind) as conn:
        stmt = dialect_insert(conn, rejected_records)
        refreshed = {
            "reason": stmt.excluded.reason,
            "last_seen_at": stmt.excluded.last_seen_at,
            "run_id": stmt.excluded.run_id,
            "_loaded_at": stmt.excluded._loaded_at,
        }
        if not keep_raw:
            refreshed["raw"] = stmt.excluded.raw
        conn.execute(stmt.on_conflict_do_update(index_elements=["store", "source", "record_key"], set_=refreshed), rows)
