"""Which version of each of a page's orders the warehouse holds already (Prefect-free).

A pull reads many orders it has recorded before: every incremental run re-reads its look-back (all
of a busy merchant's last ten minutes), and a backfill re-run reads recorded months. The merge would
count each one unchanged after parsing, flattening and staging it, the same cost as a new order.
Asking first which versions are stored lets the pull set aside every record whose stored version
is as new, before any of that (:func:`wishflow.pull.pull_chunk`), and tells the loader whether a
page holds stored orders at all (:func:`wishflow.warehouse.orders_writer.write_orders`), so it
need not ask again.

The answer may be stale by the time the page is written, but only in the safe direction: a stored
``updated_at`` never moves backwards (an older or equal payload never overwrites a newer one), so a
record set aside was recorded at least as new; one not set aside is merged as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from wishflow.orders.flatten import parse_wish_time
from wishflow.orders.records import OrderRecord
from wishflow.warehouse.schema import orders

#: The stored ``updated_at`` of each of a page's orders: one primary-key lookup per id, whatever the
#: statistics say. ``order_id = ANY(ids)``, with or without ``LIMIT 1``, was planned on an ``orders``
#: not yet analyzed (a backfill's) as a scan of the store's rows through another index, filtered:
#: 135 ms a page at 100,000 orders, where the lateral subquery (``OFFSET 0`` keeps it one) costs
#: 0.8 ms (EXPLAIN ANALYZE).
STORED_PROBE = (
    "SELECT page.order_id, hit.updated_at FROM unnest(%(ids)s) AS page(order_id),"
    " LATERAL (SELECT updated_at FROM orders"
    " WHERE orders.store = %(store)s AND orders.order_id = page.order_id OFFSET 0) AS hit"
)
#: Ids per SQLite statement (its bound parameters are limited; PostgreSQL takes one array).
_SQLITE_IDS = 500


def record_ids(records: Sequence[Any]) -> list[str]:
    """The string ids of a page's records (anything else cannot be stored, so is never looked up)."""
    ids = (r.get("id") for r in records if isinstance(r, dict | OrderRecord))
    return [order_id for order_id in ids if isinstance(order_id, str)]


def stored_versions(bind: Engine | Connection, store: str, ids: Sequence[str]) -> dict[str, datetime]:
    """The stored ``updated_at`` of each of ``ids`` that ``store`` holds (aware UTC datetimes).

    ``bind`` is an engine, or a connection its caller holds for a run of pages; one in autocommit
    (:func:`reading_connection`) reads in one round trip, without a transaction to begin and end.
    """
    if not ids:
        return {}
    if isinstance(bind, Connection):
        began = not bind.in_transaction()
        rows = _read(bind, store, ids)
        if began and bind.in_transaction():  # autobegun by the read: end it, so no snapshot or lock outlives it
            bind.rollback()  # (a transaction the caller had open is the caller's: left as it was)
    else:
        with bind.connect() as conn:
            rows = _read(conn, store, ids)
    return {order_id: updated_at for order_id, updated_at in rows}


def _read(conn: Connection, store: str, ids: Sequence[str]) -> list[Any]:
    if conn.dialect.name == "postgresql":
        return list(conn.exec_driver_sql(STORED_PROBE, {"store": store, "ids": list(ids)}).all())
    rows: list[Any] = []
    for start in range(0, len(ids), _SQLITE_IDS):
        chunk = list(ids[start : start + _SQLITE_IDS])
        query = select(orders.c.order_id, orders.c.updated_at).where(
            orders.c.store == store, orders.c.order_id.in_(chunk)
        )
        rows.extend(conn.execute(query).all())
    return rows


@contextmanager
def reading_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in autocommit for a run of :func:`stored_versions` reads (the pull's prefetch thread).

    Each page's read on a connection from the pool cost four round trips (the checkout's pre-ping,
    ``BEGIN``, the read, ``ROLLBACK``); on this one it costs one. A read needs no transaction: it is
    one statement, and a stale answer is safe (above).
    """
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(frozen=True)
class SetAside:
    """A page's records after the recorded ones were set aside."""

    kept: list[Any]  # the records to parse and write
    unchanged: int  # how many were set aside (read, and unchanged)
    holds_stored: bool  # whether any kept record's order is stored (a newer version of it)


def set_aside_recorded(records: list[Any], stored: dict[str, datetime]) -> SetAside:
    """The records not recorded yet as new as they are, and what the writer needs to know of the rest.

    A record is set aside when the warehouse holds its order with an ``updated_at`` at or after the
    record's: exactly the records the merge would count unchanged. A record whose id or
    ``updated_at`` cannot be read is kept, so the parse quarantines it as before; a re-read of a
    version already recorded is not checked again (the warehouse holds that version, checked).
    """
    if not stored:
        return SetAside(records, 0, False)
    kept: list[Any] = []
    holds_stored = False
    for record in records:
        if isinstance(record, dict | OrderRecord):
            order_id = record.get("id")
            version = stored.get(order_id) if isinstance(order_id, str) else None
            if version is not None:
                updated_at = parse_wish_time(record.get("updated_at"))
                if updated_at is not None and updated_at <= version:
                    continue
                holds_stored = True
        kept.append(record)
    return SetAside(kept, len(records) - len(kept), holds_stored)
