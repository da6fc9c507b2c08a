"""Pull orders from Wish into the warehouse, a page at a time (Prefect-free).

A pull covers a window of ``updated_at``. Incremental pulls start from the saved cursor minus a
look-back overlap (re-reading a little is free: loads are idempotent) and stop a safety lag before
now, so an order Wish is still writing is picked up next time rather than skipped. Backfills take an
explicit window and never touch the incremental cursor: moving it past a gap would lose orders.

Nothing outside the window is lost: an incremental pull ends with a sweep of the orders dated after
Wish's own clock (:meth:`PullWindow.future_sweep`), which records them and flags each one
(:mod:`wishflow.sync.flags`) without moving the cursor onto a future date.

Fetching and loading overlap: the next page is requested while the current one is written.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from wishflow.api.pagination import ONE_MS, OrderLister, OrderPages, Page, Position
from wishflow.errors import ConfigError
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.parse import parse_orders
from wishflow.sync.flags import flag_future_orders
from wishflow.sync.window import plan_stream_window
from wishflow.warehouse.orders_writer import (
    ORDERS_STREAM,
    CursorAdvance,
    LoadResult,
    load_orders,
)

DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_SAFETY_LAG = timedelta(seconds=30)


@dataclass(frozen=True)
class PullWindow:
    """The ``updated_at`` range of one pull and whether it moves the incremental cursor.

    ``server_now`` is Wish's clock when the window was planned (incremental pulls). A window with
    ``future`` set is the sweep past it: open-ended, never moving the cursor, flagging what it reads.
    """

    start: datetime | None
    end: datetime | None
    incremental: bool
    server_now: datetime | None = None
    future: bool = False

    def describe(self) -> str:
        """The window in words for logs and run records."""
        start = format_wish_time(self.start) if self.start else "the beginning"
        if self.future:
            return f"sweep of orders dated after Wish's clock (from {start})"
        kind = "incremental" if self.incremental else "backfill"
        end = format_wish_time(self.end) if self.end else "the end"
        return f"{kind} pull of orders updated from {start} to {end}"

    def to_json(self) -> dict[str, Any]:
        """The window as JSON (Wish's time format), as run records and Prefect parameters store it."""
        value: dict[str, Any] = {
            "start": format_wish_time(self.start) if self.start else None,
            "end": format_wish_time(self.end) if self.end else None,
            "incremental": self.incremental,
        }
        if self.server_now is not None:
            value["server_now"] = format_wish_time(self.server_now)
        if self.future:
            value["future"] = True
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> PullWindow:
        """The window :meth:`to_json` wrote."""
        return cls(
            parse_wish_time(value.get("start")),
            parse_wish_time(value.get("end")),
            bool(value["incremental"]),
            server_now=parse_wish_time(value.get("server_now")),
            future=bool(value.get("future")),
        )

    def future_sweep(self) -> PullWindow | None:
        """The window of orders dated after Wish's clock, read after an incremental pull (else None).

        Orders between the window's end and Wish's now are the next pull's (the safety lag); only
        those after Wish's now are swept, recorded and flagged.
        """
        if not self.incremental or self.future or self.server_now is None:
            return None
        return PullWindow(self.server_now + ONE_MS, None, incremental=False, server_now=self.server_now, future=True)


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
    window = plan_stream_window(engine, store, ORDERS_STREAM, server_now=now, lookback=lookback, safety_lag=safety_lag)
    return PullWindow(window.start, window.end, incremental=True, server_now=now)


@dataclass
class ChunkResult:
    """What a run of pages did, and where the next chunk starts (``None``: the window is done)."""

    load: LoadResult = field(default_factory=LoadResult)
    pages: int = 0
    requests: int = 0
    next_position: Position | None = None
    max_updated_at: datetime | None = None
    flagged_future: int = 0


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
    resume: ChunkResult | None = None,
    on_page: Callable[[ChunkResult], None] | None = None,
) -> ChunkResult:
    """Fetch and record up to ``max_pages`` pages from ``position``; each page commits on its own.

    ``on_page`` sees the running result after each committed page; handing the last one back as
    ``resume`` continues from the page after it (a retried task does not re-read its chunk). Without
    it, a crash or retry resumes from ``position``: pages already recorded load again as no-ops.
    """
    pages = OrderPages(client, start=window.start, end=window.end, limit=page_size)
    if resume is not None:
        if resume.next_position is None or resume.pages >= max_pages:
            return resume
        result = resume
        start = resume.next_position
    else:
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
            if window.incremental and page_max is not None and window.end is not None:
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
            if window.future and window.server_now is not None:
                result.flagged_future += flag_future_orders(engine, store, records, window.server_now, run_id=run_id)
            if page_max is not None and (result.max_updated_at is None or page_max > result.max_updated_at):
                result.max_updated_at = page_max
            result.next_position = page.next_position
            if on_page is not None:
                on_page(result)
            if not more:
                return result


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (one place for the pull's clock)."""
    return datetime.now(UTC)
