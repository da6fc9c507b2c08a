"""Pull orders from Wish into the warehouse, a page at a time (Prefect-free).

A pull covers a window of ``updated_at``. Incremental pulls start from the saved cursor minus a
look-back overlap (re-reading a little is free: loads are idempotent) and stop a safety lag before
now, so an order Wish is still writing is picked up next time rather than skipped. Backfills take an
explicit window and never move an existing incremental cursor: moving it past a gap would lose
orders. One exception costs nothing and saves the next run from re-reading the whole history: a
backfill from the beginning (no ``since``, or one before :data:`WISH_BEGINNING`) when no cursor exists
moves it as an incremental pull does, page by page; its committed pages are then a prefix of the
history, so everything before the cursor is recorded (see :func:`plan_window`).

Nothing outside the window is lost: an incremental pull ends with a sweep of the orders dated after
Wish's own clock (:meth:`PullWindow.future_sweep`), which records them and flags each one
(:mod:`wishflow.sync.flags`) without moving the cursor onto a future date.

Fetching, preparing and loading overlap: the next page is requested while the one before it is
parsed and flattened, and that while the database merges the one before (:func:`pull_chunk`).
"""

from __future__ import annotations

import contextlib
import functools
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from wishflow.api.contract import WishApi
from wishflow.api.pagination import ONE_MS, OrderPages, Page, Position
from wishflow.errors import ConfigError
from wishflow.frozen_heap import frozen_heap
from wishflow.orders.flatten import format_wish_time, parse_wish_time
from wishflow.orders.parse import parse_orders
from wishflow.orders.records import OrderRecord
from wishflow.sync.engine import plan as plan_stream
from wishflow.sync.flags import flag_future_orders
from wishflow.sync.orders_stream import ORDERS
from wishflow.warehouse.orders_writer import (
    ORDERS_STREAM,
    CursorAdvance,
    LoadResult,
    PreparedBatch,
    prepare_orders,
    read_cursor,
    write_orders,
)
from wishflow.warehouse.stored_versions import reading_connection, record_ids, set_aside_recorded, stored_versions

DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_SAFETY_LAG = timedelta(seconds=30)
#: A backfill starting at or before this instant covers the whole history (Wish sold nothing before
#: 2010; an assumption about the marketplace, not a documented API bound).
WISH_BEGINNING = datetime(2010, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PullWindow:
    """The ``updated_at`` range of one pull and whether it moves the incremental cursor.

    ``server_now`` is Wish's clock when the window was planned (incremental pulls). A window with
    ``future`` set is the sweep past it: open-ended, never moving the cursor, flagging what it reads.
    ``cursor_cap`` is set on a backfill from the beginning planned while no cursor existed: its pages
    move the cursor (never past the cap) as an incremental pull's do.
    """

    start: datetime | None
    end: datetime | None
    incremental: bool
    server_now: datetime | None = None
    future: bool = False
    cursor_cap: datetime | None = None

    def moves_cursor_to(self) -> datetime | None:
        """The cap of the cursor this window's pages move, or ``None`` when they leave it alone."""
        if self.incremental:
            return self.end
        return self.cursor_cap

    def describe(self) -> str:
        """The window in words for logs and run records."""
        start = format_wish_time(self.start) if self.start else "the beginning"
        if self.future:
            return f"sweep of orders dated after Wish's clock (from {start})"
        kind = "incremental" if self.incremental else "backfill"
        end = format_wish_time(self.end) if self.end else "the end"
        sets = " (no cursor yet: this backfill sets it)" if self.cursor_cap is not None else ""
        return f"{kind} pull of orders updated from {start} to {end}{sets}"

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
        if self.cursor_cap is not None:
            value["cursor_cap"] = format_wish_time(self.cursor_cap)
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
            cursor_cap=parse_wish_time(value.get("cursor_cap")),
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
    """The window to pull: a backfill when ``since`` or ``until`` is given, else incremental.

    A backfill from the beginning planned while the store has no cursor sets it (``cursor_cap``,
    capped a safety lag before its end like an incremental window's): the first incremental run
    after it then reads the last few minutes, not the whole history again.
    """
    if since is not None or until is not None:
        end = min(until or now, now)
        if since is not None and since > end:
            raise ConfigError(
                f"since ({since.isoformat()}) is after until ({end.isoformat()})",
                hint="give a --since before --until (and not in the future)",
            )
        cap = None
        if (since is None or since <= WISH_BEGINNING) and read_cursor(engine, store, ORDERS_STREAM) is None:
            cap = end - safety_lag
        return PullWindow(since, end, incremental=False, cursor_cap=cap)
    window = plan_stream(ORDERS, engine, store, server_now=now, lookback=lookback, safety_lag=safety_lag)
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
    times = [parse_wish_time(r.get("updated_at")) for r in records if isinstance(r, dict | OrderRecord)]
    known = [t for t in times if t is not None]
    return max(known) if known else None


class _Loader:
    """One thread that writes prepared batches, in the order they were handed over.

    The pull's thread parses and flattens page N+1 while this one holds page N's transaction (the
    database's work); the queue is bounded, so at most ``depth`` prepared batches wait in memory.
    After a failed job, later jobs are skipped: no page commits after an earlier one failed, so the
    cursor and the committed pages stay a prefix of the window, as when pages were written inline.

    The thread holds one connection for all its jobs (opened at the first): a checkout from the
    pool per page cost a round trip (the pre-ping), and every round trip of this thread ends in a
    wait for the GIL, during which PostgreSQL sits idle (bench/PROFILE.md).
    """

    def __init__(self, engine: Engine, depth: int = 2) -> None:
        self._engine = engine
        self._jobs: queue.Queue[Callable[[Connection], None] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="wishflow-loader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.ExitStack() as held:
            conn: Connection | None = None
            while (job := self._jobs.get()) is not None:
                if self._error is None:
                    try:
                        if conn is None:
                            conn = held.enter_context(self._engine.connect())
                        job(conn)
                    except BaseException as exc:  # noqa: BLE001 - handed to the pull's thread
                        self._error = exc

    def submit(self, job: Callable[[Connection], None]) -> None:
        self.raise_failure()
        self._jobs.put(job)

    def raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Wait until every job handed over has run (or been skipped after a failure)."""
        self._jobs.put(None)
        self._thread.join()


#: How often (seconds) the interpreter hands the GIL between threads while a pull runs, instead of
#: Python's 5 ms. The pull's parsing thread is busy with Python; the loader and prefetch threads
#: wait on PostgreSQL and HTTP, and each of a page's dozen round trips returned to a loader thread
#: that then waited up to the whole interval for the GIL, so the database sat idle between
#: statements (library pull, 50,000 orders, alternated three times: 7-11% less wall time, about 5%
#: more loader CPU; bench/PROFILE.md).
PULL_SWITCH_INTERVAL = 0.0005
_tuning_lock = threading.Lock()
_tuning_users = 0
_saved_switch_interval = 0.0


@contextlib.contextmanager
def pull_interpreter(interval: float = PULL_SWITCH_INTERVAL) -> Iterator[None]:
    """Short GIL turns and a frozen heap while the block runs; both undone when it ends.

    * The thread switch interval drops to ``interval`` (see :data:`PULL_SWITCH_INTERVAL`).
    * The objects alive when the block starts (the imports, Prefect's, GX's) are frozen
      (:func:`~wishflow.frozen_heap.frozen_heap`): parsing a page allocates thousands of
      containers, which triggered a full collection every ~2,500 orders, and each walked the whole
      heap again, a quarter of the pull's CPU (1.5-1.7 s per 50,000 orders; frozen: 0.2 s). The
      block's end collects what the pull made (without it, the second chunk froze the first one's
      garbage: +20 MB peak at 50,000 orders) and hands the frozen heap back.

    Process-wide (both are the interpreter's): pulls running at once in one process share them, and
    the first one's saved interval comes back when the last one ends.
    """
    global _tuning_users, _saved_switch_interval  # noqa: PLW0603 - an interpreter setting, counted
    with _tuning_lock:
        if _tuning_users == 0:
            _saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(interval, _saved_switch_interval))
        _tuning_users += 1
    try:
        with frozen_heap():
            yield
    finally:
        with _tuning_lock:
            _tuning_users -= 1
            if _tuning_users == 0:
                sys.setswitchinterval(_saved_switch_interval)


@pull_interpreter()  # the whole chunk, the loader thread's last writes included
def pull_chunk(
    client: WishApi,
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

    Three stages overlap: a thread fetches the next page, this one parses and flattens pages, and a
    loader thread writes them (one transaction per page, in page order, the cursor moving with each).
    ``on_page`` sees the running result after each committed page (from the loader thread); handing
    the last one back as ``resume`` continues from the page after it (a retried task does not
    re-read its chunk). Without it, a crash or retry resumes from ``position``: pages already
    recorded load again as no-ops. An error in any stage ends the chunk once the pages before it
    are committed.
    """
    pages = OrderPages(client, start=window.start, end=window.end, limit=page_size, typed=True)
    if resume is not None:
        if resume.next_position is None or resume.pages >= max_pages:
            return resume
        result = resume
        start = resume.next_position
    else:
        start = position or pages.first_position()
        result = ChunkResult(next_position=start)
    encode = engine.dialect.name == "postgresql"
    taken = result.pages
    loader = _Loader(engine)

    def fetch(reader: Connection, position: Position) -> tuple[Page, dict[str, datetime]]:
        page = pages.fetch(position)
        return page, stored_versions(reader, store, record_ids(page.records))

    try:
        with (
            reading_connection(engine) as reader,  # the prefetch thread's only: one fetch at a time
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="wishflow-prefetch") as prefetch,
        ):
            future = prefetch.submit(fetch, reader, start)
            while True:
                page, stored = future.result()
                taken += 1
                more = page.next_position is not None and taken < max_pages
                if page.next_position is not None and more:
                    future = prefetch.submit(fetch, reader, page.next_position)
                page_max = _page_max_updated(page.records)
                cursor = None
                cap = window.moves_cursor_to()
                if page_max is not None and cap is not None:
                    cursor = CursorAdvance(ORDERS_STREAM, min(page_max, cap))
                # Records whose version is recorded already (a look-back's, mostly) are set aside
                # unparsed and counted unchanged (:mod:`wishflow.warehouse.stored_versions`).
                aside = set_aside_recorded(page.records, stored)
                records = aside.kept
                # A page that read a saturated tie holds every order of that instant (thousands,
                # maybe): it is recorded ``page_size`` records at a time, so parsing, flattening and
                # COPY never hold more than one slice. The cursor moves with the last slice only: a
                # crash between slices re-reads the page (loads are idempotent), never skips what
                # was not saved.
                for offset in range(0, max(len(records), 1), page_size):
                    parsed, rejected = parse_orders(records[offset : offset + page_size])
                    prepared = prepare_orders(
                        store,
                        parsed,
                        rejected,
                        run_id=run_id,
                        encode=encode,
                        stored=aside.holds_stored,
                        unchanged=aside.unchanged if offset == 0 else 0,
                    )
                    last = offset + page_size >= len(records)
                    loader.submit(functools.partial(_write, prepared, cursor if last else None, result.load))
                loader.submit(functools.partial(_page_done, store, window, page, page_max, result, on_page, run_id))
                if not more:
                    break
    finally:
        loader.close()
    loader.raise_failure()
    return result


def _write(prepared: PreparedBatch, cursor: CursorAdvance | None, load: LoadResult, conn: Connection) -> None:
    load.add(write_orders(conn, prepared, cursor=cursor))


def _page_done(  # noqa: PLR0913 - one page's bookkeeping, run on the loader thread after its writes
    store: str,
    window: PullWindow,
    page: Page,
    page_max: datetime | None,
    result: ChunkResult,
    on_page: Callable[[ChunkResult], None] | None,
    run_id: str | None,
    conn: Connection,
) -> None:
    """After a page's orders are committed: flag what it read past Wish's clock, count it, report it."""
    if window.future and window.server_now is not None:
        result.flagged_future += flag_future_orders(conn, store, page.records, window.server_now, run_id=run_id)
    result.pages += 1
    result.requests += page.requests
    if page_max is not None and (result.max_updated_at is None or page_max > result.max_updated_at):
        result.max_updated_at = page_max
    result.next_position = page.next_position
    if on_page is not None:
        on_page(result)


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (one place for the pull's clock)."""
    return datetime.now(UTC)
