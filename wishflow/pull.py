"""Pull orders from Wish into the warehouse, a page at a time (Prefect-free).

A pull covers a window of ``updated_at``. Incremental pulls start from the saved cursor minus a
look-back overlap (re-reading a little is free: loads are idempotent) and stop a safety lag before
now, so an order Wish is still writing is picked up next time rather than skipped. Backfills take an
explicit window and never touch the incremental cursor: moving it past a gap would lose orders.

Fetching and loading overlap: the next page is requested while the current one is written.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from wishflow.api.pagination import OrderLister, OrderPages, Page, Position
from wishflow.errors import ConfigError
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.parse import parse_orders
from wishflow.warehouse.orders_writer import (
    ORDERS_STREAM,
    CursorAdvance,
    LoadResult,
    load_orders,
    read_cursor,
)

DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_SAFETY_LAG = timedelta(seconds=30)


@dataclass(frozen=True)
class PullWindow:
    """The ``updated_at`` range of one pull and whether it moves the incremental cursor."""

    start: datetime | None
    end: datetime
    incremental: bool

    def describe(self) -> str:
        start = format_wish_time(self.start) if self.start else "the beginning"
        kind = "incremental" if self.incremental else "backfill"
        return f"{kind} pull of orders updated from {start} to {format_wish_time(self.end)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": format_wish_time(self.start) if self.start else None,
            "end": format_wish_time(self.end),
            "incremental": self.incremental,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PullWindow:
        end = parse_wish_time(value["end"])
        assert end is not None
        return cls(parse_wish_time(value.get("start")), end, bool(value["incremental"]))


def plan_window(
    engine: Engine,
    store: str,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    lookback: timedelta = DEFAULT_LOOKBACK,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> PullWindow:
    """The window to pull: a backfill when ``since`` or ``until`` is given, else incremental."""
    if since is not None or until is not None:
        end = min(until or now, now)
        if since is not None and since > end:
            raise ConfigError(
                f"since ({since.isoformat()}) is after until ({end.isoformat()})",
                hint="give a --since before --until (and not in the future)",
            )
        return PullWindow(since, end, incremental=False)
    cursor = read_cursor(engine, store, ORDERS_STREAM)
    end = now - safety_lag
    start = None if cursor is None else min(cursor - lookback, end)
    return PullWindow(start, end, incremental=True)


@dataclass
class ChunkResult:
    """What a run of pages did, and where the next chunk starts (``None``: the window is done)."""

    load: LoadResult = field(default_factory=LoadResult)
    pages: int = 0
    requests: int = 0
    next_position: Position | None = None
    max_updated_at: datetime | None = None


def _page_max_updated(records: list[Any]) -> datetime | None:
    times = [parse_wish_time(r.get("updated_at")) for r in records if isinstance(r, dict)]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def pull_chunk(
    client: OrderLister,
    engine: Engine,
    store: str,
    window: PullWindow,
    position: Position | None,
    *,
    max_pages: int = 20,
    page_size: int = 500,
    run_id: str | None = None,
) -> ChunkResult:
    """Fetch and record up to ``max_pages`` pages from ``position``; each page commits on its own.

    A crash or retry resumes from ``position``: pages already recorded load again as no-ops.
    """
    pages = OrderPages(client, start=window.start, end=window.end, limit=page_size)
    start = position or pages.first_position()
    result = ChunkResult(next_position=start)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="wishflow-prefetch") as prefetch:
        future = prefetch.submit(pages.fetch, start)
        while True:
            page: Page = future.result()
            result.pages += 1
            result.requests += page.requests
            more = page.next_position is not None and result.pages < max_pages
            if page.next_position is not None and more:
                future = prefetch.submit(pages.fetch, page.next_position)
            page_max = _page_max_updated(page.records)
            cursor = None
            if window.incremental and page_max is not None:
                cursor = CursorAdvance(ORDERS_STREAM, min(page_max, window.end))
            # A page that read a saturated tie holds every order of that instant (thousands, maybe):
            # it is recorded ``page_size`` records at a time, so parsing, flattening and COPY never
            # hold more than one slice. The cursor moves with the last slice only: a crash between
            # slices re-reads the page (loads are idempotent), never skips what was not saved.
            records = page.records
            for offset in range(0, max(len(records), 1), page_size):
                piece = records[offset : offset + page_size]
                last = offset + page_size >= len(records)
                parsed, rejected = parse_orders(piece)
                result.load.add(
                    load_orders(engine, store, parsed, rejected, run_id=run_id, cursor=cursor if last else None)
                )
            if page_max is not None and (result.max_updated_at is None or page_max > result.max_updated_at):
                result.max_updated_at = page_max
            result.next_position = page.next_position
            if not more:
                return result


def utcnow() -> datetime:
    return datetime.now(UTC)
