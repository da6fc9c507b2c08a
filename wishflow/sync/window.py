"""The cursor rules every incremental stream shares (orders, tracking refresh, tickets, penalties).

Written once so the streams cannot drift apart again:

- a window runs from the stream's cursor minus a look-back (re-reading a little is free: loads are
  idempotent) to **Wish's** clock minus a safety lag (a record Wish is still writing is read next
  time rather than skipped; our clock may be off);
- the cursor moves to the newest time a committed page held, **capped at the window's end**: a
  record dated after it (clock skew, bad data) never drags the cursor past records not yet read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from wishflow.warehouse.orders_writer import CursorAdvance, read_cursor

DEFAULT_LOOKBACK = timedelta(minutes=10)
DEFAULT_SAFETY_LAG = timedelta(seconds=30)


@dataclass(frozen=True)
class StreamWindow:
    """``[start, end]`` of one incremental read (``start`` None: from the beginning)."""

    start: datetime | None
    end: datetime


def plan_stream_window(
    engine: Engine,
    store: str,
    stream: str,
    *,
    server_now: datetime,
    lookback: timedelta = DEFAULT_LOOKBACK,
    safety_lag: timedelta = DEFAULT_SAFETY_LAG,
    fallback_stream: str | None = None,
) -> StreamWindow:
    """The window from ``stream``'s cursor (else ``fallback_stream``'s) to Wish's now minus the lag."""
    end = server_now - safety_lag
    cursor = read_cursor(engine, store, stream)
    if cursor is None and fallback_stream is not None:
        cursor = read_cursor(engine, store, fallback_stream)
    start = None if cursor is None else min(cursor - lookback, end)
    return StreamWindow(start, end)


def cursor_after(stream: str, times: Iterable[datetime | None], end: datetime | None) -> CursorAdvance | None:
    """Where ``stream``'s cursor goes after a page with these record times: the newest, capped at ``end``."""
    known = [t for t in times if t is not None]
    if not known:
        return None
    newest = max(known)
    return CursorAdvance(stream, newest if end is None else min(newest, end))


def server_clock(client: Any) -> datetime:
    """Wish's now from a client that offers ``server_now()`` (the real one does), else ours."""
    server_now = getattr(client, "server_now", None)
    return server_now() if callable(server_now) else datetime.now(UTC)
