"""The one incremental-sync engine: streams declare what they read, the loop lives here.

A stream declares *what* it reads and how a page is recorded; the window, the cursor and the page loop
are written here once.

A :class:`Stream` names its cursor, the record field the cursor follows, the keyset declaration of
its list endpoint (:class:`~wishflow.api.pagination.Keyset`, paged by the one paginator) and the
function that records one page *with* the cursor's move in the same transaction. :func:`plan`
gives its window (:mod:`wishflow.sync.window`: Wish's clock, look-back, safety lag) and
:func:`run_pages` reads and records pages from a position, up to a page budget (a task's chunk),
returning where the next chunk starts. Groups of records the paginator could not read whole (more
at one instant than any filter splits) are flagged in ``rejected_records`` (:func:`flag_unresolved`)
and the stream moves on: it never wedges, and never loses records silently.

Streams: orders (:mod:`wishflow.sync.orders_stream`), tracking refresh
(:mod:`wishflow.tracking.refresh`), tickets (:mod:`wishflow.aftersales.tickets`), penalties
created and reversed (:mod:`wishflow.aftersales.penalties`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import Engine

from wishflow.api.pagination import MAX_LIMIT, Keyset, KeysetPages, Position, Unresolved
from wishflow.orders.flatten import parse_wish_time
from wishflow.sync.flags import upsert_flags
from wishflow.sync.window import DEFAULT_LOOKBACK, DEFAULT_SAFETY_LAG, StreamWindow, cursor_after, plan_stream_window
from wishflow.warehouse.orders_writer import CursorAdvance

#: A page's outcome: counts (summed across pages) and lists (concatenated), by name.
Outcome = dict[str, Any]


class RecordPage(Protocol):
    """Records one page and moves the stream's cursor (``cursor``, when given) in one transaction."""

    def __call__(
        self, engine: Engine, store: str, records: list[Any], *, cursor: CursorAdvance | None, run_id: str | None
    ) -> Outcome:
        """Record ``records`` of ``store`` and move ``cursor`` (when given), in one transaction."""


class Bounds(Protocol):
    """A window: :class:`~wishflow.sync.window.StreamWindow`, or the pull's ``PullWindow``."""

    @property
    def start(self) -> datetime | None:
        """Inclusive lower end of the window (None: from the beginning)."""

    @property
    def end(self) -> datetime | None:
        """Inclusive upper end of the window (None: up to Wish's now)."""


@dataclass(frozen=True)
class Stream:
    """One incremental stream from Wish (see the module docstring)."""

    name: str
    cursor_field: str
    keyset: Callable[[Any, Engine, str], Keyset]
    record: RecordPage
    #: the cursor a stream without its own starts from (tracking: the pull's)
    fallback_stream: str | None = None

    @property
    def flag_source(self) -> str:
        """``rejected_records.source`` of this stream's unresolved groups."""
        return f"{self.name}:unpaged_group"


@dataclass
class StreamChunk:
    """What a run of pages read and recorded, and where the next one starts (``None``: done)."""

    pages: int = 0
    requests: int = 0
    unresolved: int = 0
    outcome: Outcome = field(default_factory=dict)
    next_position: Position | None = None

    def add(self, outcome: Outcome) -> None:
        """Fold one page's outcome in: counts are summed, lists concatenated."""
        for name, value in outcome.items():
            if isinstance(value, list):
                self.outcome.setdefault(name, []).extend(value)
            else:
                self.outcome[name] = self.outcome.get(name, 0) + value

    def count(self, name: str) -> int:
        """The summed count called ``name`` (0 when no page reported it)."""
        return int(self.outcome.get(name, 0))

    def items(self, name: str) -> list[Any]:
        """The concatenated list called ``name`` (empty when no page reported it)."""
        return list(self.outcome.get(name, []))


def plan(
    stream: Stream,
    engine: Engine,
    store: str,
    *,
    server_now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
) -> StreamWindow:
    """``stream``'s next window, from its cursor to Wish's now minus the safety lag."""
    return plan_stream_window(
        engine,
        store,
        stream.name,
        server_now=server_now,
        lookback=lookback,
        safety_lag=safety_lag,
        fallback_stream=stream.fallback_stream,
    )


def run_pages(
    stream: Stream,
    client: Any,
    engine: Engine,
    store: str,
    window: Bounds,
    position: Position | None = None,
    *,
    max_pages: int | None = None,
    page_size: int = MAX_LIMIT,
    run_id: str | None = None,
    moves_cursor: bool = True,
) -> StreamChunk:
    """Read and record up to ``max_pages`` pages of ``window`` from ``position`` (all when ``None``).

    Each page commits on its own with the cursor's move (the newest ``cursor_field`` it held, capped
    at the window's end), so a crash resumes after the last committed page and re-reads nothing
    twice that mattered (loads are idempotent).
    """
    pages = KeysetPages(stream.keyset(client, engine, store), start=window.start, end=window.end, limit=page_size)
    chunk = StreamChunk()
    current: Position | None = position or pages.first_position()
    while current is not None and (max_pages is None or chunk.pages < max_pages):
        page = pages.fetch(current)
        chunk.pages += 1
        chunk.requests += page.requests
        cursor = None
        if moves_cursor:
            times = (parse_wish_time(r.get(stream.cursor_field)) for r in page.records if isinstance(r, dict))
            cursor = cursor_after(stream.name, times, window.end)
        chunk.add(stream.record(engine, store, page.records, cursor=cursor, run_id=run_id))
        if page.unresolved:
            chunk.unresolved += flag_unresolved(engine, store, stream, page.unresolved, run_id=run_id)
        current = page.next_position
    chunk.next_position = current
    return chunk


def sync(
    stream: Stream,
    client: Any,
    engine: Engine,
    store: str,
    *,
    server_now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
    page_size: int = MAX_LIMIT,
    run_id: str | None = None,
) -> StreamChunk:
    """Plan ``stream``'s window and read it to the end (one task's worth: tickets, penalties)."""
    window = plan(stream, engine, store, server_now=server_now, lookback=lookback, safety_lag=safety_lag)
    return run_pages(stream, client, engine, store, window, page_size=page_size, run_id=run_id)


def flag_unresolved(
    engine: Engine, store: str, stream: Stream, groups: Sequence[Unresolved], *, run_id: str | None = None
) -> int:
    """A ``rejected_records`` row per group the paginator could not read whole (upserted)."""
    now = datetime.now(UTC)
    rows = []
    for group in groups:
        key = orjson.dumps(group.filters, option=orjson.OPT_SORT_KEYS, default=str).decode()
        record_key = key if len(key) <= 128 else hashlib.sha256(key.encode()).hexdigest()
        rows.append(
            {
                "store": store,
                "source": stream.flag_source,
                "record_key": record_key,
                "order_id": None,
                "reason": f"{stream.name}: {group.describe()}",
                "raw": key,
                "first_seen_at": now,
                "last_seen_at": now,
                "run_id": run_id,
                "resolved_at": None,
                "_loaded_at": now,
            }
        )
    upsert_flags(engine, rows, keep_raw=True)
    return len(rows)
