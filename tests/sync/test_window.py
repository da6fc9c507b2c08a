"""The cursor rules every stream shares: Wish's clock, look-back, safety lag, cursor capped at the end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from wishflow.sync.window import cursor_after, plan_stream_window
from wishflow.warehouse.bulk import write_transaction
from wishflow.warehouse.orders_writer import CursorAdvance, advance_cursor

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_a_first_window_starts_at_the_beginning_and_ends_a_lag_before_wish_now(engine: sa.Engine) -> None:
    window = plan_stream_window(engine, "s", "tickets", server_now=NOW, safety_lag=timedelta(seconds=30))
    assert window.start is None
    assert window.end == NOW - timedelta(seconds=30)


def test_a_window_starts_a_look_back_before_the_cursor_or_the_fallback(engine: sa.Engine) -> None:
    with write_transaction(engine) as conn:
        advance_cursor(conn, "s", CursorAdvance("orders", NOW - timedelta(hours=1)), None, NOW)
    tracking = plan_stream_window(
        engine, "s", "tracking", server_now=NOW, lookback=timedelta(minutes=10), fallback_stream="orders"
    )
    assert tracking.start == NOW - timedelta(hours=1, minutes=10)
    assert plan_stream_window(engine, "s", "tickets", server_now=NOW).start is None


def test_the_cursor_never_passes_the_window_end() -> None:
    end = NOW - timedelta(seconds=30)
    ahead = NOW + timedelta(days=365)
    assert cursor_after("tickets", [NOW - timedelta(hours=1), ahead, None], end) == CursorAdvance("tickets", end)
    assert cursor_after("tickets", [NOW - timedelta(hours=1)], end) == CursorAdvance(
        "tickets", NOW - timedelta(hours=1)
    )
    assert cursor_after("tickets", [None], end) is None
