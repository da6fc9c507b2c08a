"""A pull's chunk holds its connections for the whole chunk, and leaves no transaction open.

Real warehouses (both backends), an in-memory lister with Wish's list semantics for the API. Each
round trip of the loader thread ends in a wait for the GIL while PostgreSQL idles, so the chunk
checks a connection out once per thread (not once per page, each checkout pinging the server),
reads stored versions outside any transaction, and appends a page of new orders without a savepoint.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.api.test_pagination import InclusiveLister, make_order
from wishflow.orders.parse import parse_orders
from wishflow.pull import ChunkResult, PullWindow, pull_chunk
from wishflow.sync.flags import FUTURE_SOURCE
from wishflow.warehouse.orders_writer import ORDERS_STREAM, prepare_orders, read_cursor, write_orders
from wishflow.warehouse.schema import order_events, orders, rejected_records
from wishflow.warehouse.stored_versions import reading_connection, stored_versions
from wishflow.warehouse.validation_schema import order_validation_queue

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW = PullWindow(None, T0 + timedelta(days=1), incremental=True)


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _pull_counting_checkouts(engine: sa.Engine, window: PullWindow, at: list[datetime]) -> tuple[ChunkResult, int]:
    """A chunk of ``at``'s orders in pages of 100, and how many connections it checked out of the pool."""
    checkouts: list[int] = []
    listener = lambda *_: checkouts.append(1)  # noqa: E731 - counted, nothing else
    event.listen(engine, "checkout", listener)
    try:
        lister = InclusiveLister([make_order(i, t) for i, t in enumerate(at)])
        chunk = pull_chunk(lister, engine, "s", window, None, max_pages=50, page_size=100)
    finally:
        event.remove(engine, "checkout", listener)
    return chunk, len(checkouts)


def test_a_chunk_checks_out_one_connection_per_thread_not_one_per_page(engine: sa.Engine) -> None:
    chunk, checkouts = _pull_counting_checkouts(engine, WINDOW, [T0 + timedelta(seconds=i) for i in range(1_000)])
    assert chunk.pages >= 10
    assert (chunk.load.fetched, chunk.load.new) == (1_000, 1_000)
    # one for the prefetch thread's reads, one for the loader thread's writes (it was one per page each)
    assert checkouts == 2
    assert _count(engine, orders) == 1_000
    assert _count(engine, order_validation_queue) == 1_000
    assert read_cursor(engine, "s", ORDERS_STREAM) == T0 + timedelta(seconds=999)


def test_a_future_sweep_flags_each_page_on_the_loader_connection_between_its_writes(engine: sa.Engine) -> None:
    """The flags of page N and the orders of page N+1 share the loader's held connection.

    Each ends its own transaction there: a flag left open would make the next page's
    ``write_transaction`` fail (a transaction already begun) or commit inside it.
    """
    now = T0
    sweep = PullWindow(None, T0 + timedelta(days=1), incremental=True, server_now=now).future_sweep()
    assert sweep is not None
    chunk, checkouts = _pull_counting_checkouts(engine, sweep, [now + timedelta(seconds=1 + i) for i in range(500)])
    assert chunk.pages >= 5  # the last page re-reads the final instant (inclusive bounds)
    assert (chunk.load.new, chunk.flagged_future) == (500, 500)
    assert checkouts == 2
    assert _count(engine, orders) == 500
    flagged = sa.select(sa.func.count()).where(rejected_records.c.source == FUTURE_SOURCE)
    with engine.connect() as conn:
        assert conn.execute(flagged).scalar_one() == 500
    assert read_cursor(engine, "s", ORDERS_STREAM) is None  # a sweep never moves the cursor


def test_stored_versions_on_a_held_connection_leave_no_transaction_open(engine: sa.Engine) -> None:
    good, _ = parse_orders([make_order(i, T0 + timedelta(seconds=i)) for i in range(5)])
    write_orders(engine, prepare_orders("s", good, run_id="r1"))
    ids = [f"{i:024x}" for i in range(5)] + ["not-stored"]
    with reading_connection(engine) as reader:
        assert stored_versions(reader, "s", ids) == stored_versions(engine, "s", ids)
        assert len(stored_versions(reader, "s", ids)) == 5
        assert not reader.in_transaction()
    with engine.connect() as held:  # a connection not in autocommit: the read's transaction is ended
        pid = None
        if engine.dialect.name == "postgresql":
            pid = held.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            held.rollback()
        assert len(stored_versions(held, "s", ids)) == 5
        assert not held.in_transaction()
        if pid is not None:  # seen from another session: idle, not idle in a transaction
            with engine.connect() as other:
                state = other.execute(sa.text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
                assert state.scalar_one() == "idle"
    with engine.connect() as caller:  # a transaction the caller opened is its own: the read leaves it open
        caller.begin()
        caller.execute(sa.delete(orders).where(orders.c.order_id == f"{0:024x}"))
        assert len(stored_versions(caller, "s", ids)) == 4  # read inside the caller's transaction
        assert caller.in_transaction()
        caller.rollback()  # the caller's choice: the delete is undone
    assert len(stored_versions(engine, "s", ids)) == 5


def test_pages_written_on_one_held_connection_merge_after_an_append_meets_a_stored_key(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The append has no savepoint: meeting a stored event's key rolls its transaction back whole, and
    the page is merged in a new one on the same connection; the next page appends again.
    """
    from wishflow.warehouse import orders_writer

    appends: list[str] = []  # what each append did: appended, declined (SQLite), or met a stored key
    append_new = orders_writer._append_new

    def spied(conn: Any, prepared: Any) -> Any:
        try:
            result = append_new(conn, prepared)
        except orders_writer._MergeInstead:
            appends.append("met a key")
            raise
        appends.append("declined" if result is None else "appended")
        return result

    monkeypatch.setattr(orders_writer, "_append_new", spied)
    first, _ = parse_orders([make_order(i, T0 + timedelta(seconds=i)) for i in range(10)])
    second, _ = parse_orders([make_order(i, T0 + timedelta(seconds=i)) for i in range(10, 20)])
    with engine.begin() as conn:  # an event for an order not stored: the append's COPY hits its key
        conn.execute(
            order_events.insert().values(
                store="s",
                order_id=f"{3:024x}",
                event_type="STATE_CHANGED",
                event_time=T0 + timedelta(seconds=3),
                _loaded_at=T0,
            )
        )
    with engine.connect() as held:
        one = write_orders(held, prepare_orders("s", first, run_id="r1", encode=True))
        two = write_orders(held, prepare_orders("s", second, run_id="r1", encode=True))
        assert not held.in_transaction()
    assert (one.new, one.changed, two.new) == (10, 0, 10)
    if engine.dialect.name == "postgresql":
        assert appends == ["met a key", "appended"]
    else:
        assert appends == ["declined", "declined"]  # SQLite always merges
    assert _count(engine, orders) == 20
    assert _count(engine, order_validation_queue) == 20
    with engine.connect() as conn:
        events = conn.execute(sa.select(order_events.c.order_id, order_events.c.event_type)).all()
    assert len(events) == len(set(events))
    assert {order_id for order_id, _ in events} == {f"{i:024x}" for i in range(20)}
