"""Refresh shipped orders from Wish: changed orders by ``updated_at``, quiet parcels by id.

Changed orders come from ``GET /orders`` over a window of ``updated_at`` with tracking's own cursor
(stream :data:`TRACKING` of the sync engine, :mod:`wishflow.sync.engine`), so tracking never moves
the pull's cursor nor takes its new orders: an order
the warehouse has not seen is recorded here only if it is already SHIPPED (shipped outside
Wishflow); anything else new is left for the pull. Parcels that have gone quiet are read one by one
(``GET /orders/{id}``) on a small bounded thread pool, in batches. Both record through the order
loader, so milestones land in ``order_events`` exactly as in a pull.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from wishflow.api.contract import WishApi
from wishflow.api.errors import WishError, WishNotFound
from wishflow.api.pagination import Position, orders_keyset
from wishflow.orders.parse import parse_orders
from wishflow.pull import PullWindow
from wishflow.sync.engine import Outcome, Stream, plan, run_pages
from wishflow.warehouse.orders_writer import ORDERS_STREAM, CursorAdvance, load_orders
from wishflow.warehouse.schema import orders

TRACKING_STREAM = "tracking"
DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_SAFETY_LAG = timedelta(seconds=30)


def plan_tracking_window(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> PullWindow:
    """The ``updated_at`` window of changed orders to read.

    From tracking's cursor (minus the look-back), else from the pull's cursor (the pull already recorded
    everything before it), else from the beginning.
    """
    window = plan(TRACKING, engine, store, server_now=now, lookback=lookback, safety_lag=safety_lag)
    return PullWindow(window.start, window.end, incremental=True)


@dataclass(frozen=True)
class TrackingPlan:
    """A tracking run's plan: Wish's clock (deadlines are Wish's) and the window of changed orders."""

    now: datetime
    window: PullWindow


@dataclass
class RefreshResult:
    """What a refresh read and recorded."""

    fetched: int = 0
    recorded: int = 0  # new or changed orders written
    unchanged: int = 0
    skipped_unknown: int = 0  # new, not shipped: left for the pull
    not_found: int = 0
    malformed: int = 0
    pages: int = 0
    requests: int = 0
    changed_order_ids: list[str] = field(default_factory=list)
    next_position: Position | None = None

    def to_json(self) -> dict[str, Any]:
        """The counts and changed orders as JSON-ready values, for the flow's result and the CLI."""
        return {
            "fetched": self.fetched,
            "recorded": self.recorded,
            "unchanged": self.unchanged,
            "skipped_unknown": self.skipped_unknown,
            "not_found": self.not_found,
            "malformed": self.malformed,
            "pages": self.pages,
            "requests": self.requests,
            "changed_order_ids": self.changed_order_ids,
            "next_position": self.next_position.to_json() if self.next_position else None,
        }


def _record(
    engine: Engine,
    store: str,
    records: Sequence[Any],
    result: RefreshResult,
    *,
    run_id: str | None,
    cursor: CursorAdvance | None,
    keep_unknown_shipped_only: bool,
) -> None:
    parsed, rejected = parse_orders(list(records))
    result.fetched += len(records)
    result.malformed += len(rejected)  # quarantine is the pull's job; counted here
    if keep_unknown_shipped_only and parsed:
        ids = [p.core.id for p in parsed]
        with engine.connect() as conn:
            known = set(
                conn.execute(
                    select(orders.c.order_id).where(orders.c.store == store, orders.c.order_id.in_(ids))
                ).scalars()
            )
        kept = [p for p in parsed if p.core.id in known or p.core.state.value == "SHIPPED"]
        result.skipped_unknown += len(parsed) - len(kept)
        parsed = kept
    load = load_orders(engine, store, parsed, (), run_id=run_id, cursor=cursor)
    result.recorded += load.new + load.changed
    result.unchanged += load.unchanged
    result.changed_order_ids.extend(load.new_order_ids)
    result.changed_order_ids.extend(load.changed_order_ids)


def _record_changed_page(
    engine: Engine, store: str, records: list[Any], *, cursor: CursorAdvance | None, run_id: str | None
) -> Outcome:
    """Record a page of changed orders: known ones, and new ones only if already SHIPPED."""
    page = RefreshResult()
    _record(engine, store, records, page, run_id=run_id, cursor=cursor, keep_unknown_shipped_only=True)
    return {
        "fetched": page.fetched,
        "recorded": page.recorded,
        "unchanged": page.unchanged,
        "skipped_unknown": page.skipped_unknown,
        "malformed": page.malformed,
        "changed_order_ids": page.changed_order_ids,
    }


#: Changed orders for tracking: ``GET /orders`` by ``updated_at`` with tracking's own cursor, which
#: starts from the pull's.
TRACKING = Stream(
    name=TRACKING_STREAM,
    cursor_field="updated_at",
    keyset=lambda client, _engine, _store: orders_keyset(client),
    record=_record_changed_page,
    fallback_stream=ORDERS_STREAM,
)


def refresh_changed(
    client: WishApi,
    engine: Engine,
    store: str,
    window: PullWindow,
    position: Position | None,
    *,
    max_pages: int = 20,
    page_size: int = 500,
    run_id: str | None = None,
) -> RefreshResult:
    """Read up to ``max_pages`` pages of orders changed in ``window`` and record them.

    Reading starts at ``position``, through the sync engine; tracking's cursor moves with each page (in
    its transaction).
    """
    chunk = run_pages(
        TRACKING, client, engine, store, window, position, max_pages=max_pages, page_size=page_size, run_id=run_id
    )
    return RefreshResult(
        fetched=chunk.count("fetched"),
        recorded=chunk.count("recorded"),
        unchanged=chunk.count("unchanged"),
        skipped_unknown=chunk.count("skipped_unknown"),
        malformed=chunk.count("malformed"),
        pages=chunk.pages,
        requests=chunk.requests,
        changed_order_ids=chunk.items("changed_order_ids"),
        next_position=chunk.next_position,
    )


def fetch_orders_by_id(
    client: WishApi,
    order_ids: Sequence[str],
    *,
    max_workers: int = 8,
    on_error: Callable[[str, WishError], None] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """``GET /orders/{id}`` for each id on at most ``max_workers`` threads.

    Returns the payloads and the ids Wish does not know (404-like failures); any other failure is
    raised for the task's retry policy (a retried batch re-reads: reads are idempotent).
    """
    missing: list[str] = []

    def one(order_id: str) -> dict[str, Any] | None:
        try:
            return client.get_order(order_id)
        except WishNotFound as exc:  # any other failure is raised for the task's retry policy
            if on_error:
                on_error(order_id, exc)
            missing.append(order_id)
            return None

    if not order_ids:
        return [], []
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(order_ids))), thread_name_prefix="wishflow-track"
    ) as pool:
        payloads = [p for p in pool.map(one, order_ids) if p is not None]
    return payloads, missing


def refresh_by_id(
    client: WishApi,
    engine: Engine,
    store: str,
    order_ids: Sequence[str],
    *,
    max_workers: int = 8,
    run_id: str | None = None,
) -> RefreshResult:
    """Read quiet parcels' orders by id and record them (one transaction)."""
    payloads, missing = fetch_orders_by_id(client, order_ids, max_workers=max_workers)
    result = RefreshResult(not_found=len(missing), requests=len(order_ids))
    _record(engine, store, payloads, result, run_id=run_id, cursor=None, keep_unknown_shipped_only=False)
    return result
