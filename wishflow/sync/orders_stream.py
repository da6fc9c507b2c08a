"""The orders stream: ``GET /orders`` by ``updated_at`` under the pull's cursor.

The pull (:mod:`wishflow.pull`) plans its window with this declaration and pages with its keyset
(:func:`~wishflow.api.pagination.orders_keyset`: ``released_at``, then state, then the batch download
job for a saturated instant). It keeps its own page loop, which overlaps fetching with loading and
slices the pages of a saturated instant; :attr:`ORDERS.record` is the plain recording of one page,
for callers that run the stream through :func:`wishflow.sync.engine.run_pages`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from wishflow.api.pagination import orders_keyset
from wishflow.orders.parse import parse_orders
from wishflow.sync.engine import Outcome, Stream
from wishflow.warehouse.orders_writer import ORDERS_STREAM, CursorAdvance, load_orders


def record_orders(
    engine: Engine, store: str, records: list[Any], *, cursor: CursorAdvance | None, run_id: str | None
) -> Outcome:
    """Parse and load one page of orders (malformed ones quarantined) with the cursor's move."""
    parsed, rejected = parse_orders(records)
    load = load_orders(engine, store, parsed, rejected, run_id=run_id, cursor=cursor)
    return {
        "fetched": load.fetched,
        "new": load.new,
        "changed": load.changed,
        "unchanged": load.unchanged,
        "quarantined": load.quarantined,
    }


ORDERS = Stream(
    name=ORDERS_STREAM,
    cursor_field="updated_at",
    keyset=lambda client, _engine, _store: orders_keyset(client),
    record=record_orders,
)
