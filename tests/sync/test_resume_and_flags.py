"""A retried chunk resumes after its last committed page; future-dated orders are flagged.

Real warehouses (both backends), an in-memory lister with Wish's list semantics for the API.
"""

from __future__ import annotations

import gc
import sys
import weakref
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import wishflow.frozen_heap as frozen_heap_module
from tests.api.test_pagination import InclusiveLister, make_order
from wishflow.pull import PULL_SWITCH_INTERVAL, ChunkResult, PullWindow, pull_chunk, pull_interpreter
from wishflow.sync.flags import FUTURE_SOURCE, flag_future_orders
from wishflow.warehouse.schema import orders, rejected_records

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class FailingOnce(InclusiveLister):
    """Fails the ``fail_at``-th request once (a failure that outlasted the client's own retries)."""

    def __init__(self, orders_: list[dict[str, Any]], fail_at: int) -> None:
        super().__init__(orders_)
        self.fail_at = fail_at
        self.failed = False

    def list_orders(self, **p: Any) -> list[Any]:
        if self.calls + 1 == self.fail_at and not self.failed:
            self.failed = True
            self.calls += 1
            raise RuntimeError("connection lost for good")
        return super().list_orders(**p)


def test_a_retried_chunk_resumes_after_its_last_committed_page(engine: sa.Engine) -> None:
    data = [make_order(i, T0 + timedelta(seconds=i)) for i in range(1000)]
    lister = FailingOnce(data, fail_at=4)
    window = PullWindow(None, T0 + timedelta(days=1), incremental=True)
    committed: dict[str, ChunkResult] = {}
    with pytest.raises(RuntimeError):
        pull_chunk(
            lister,
            engine,
            "s",
            window,
            None,
            max_pages=20,
            page_size=100,
            on_page=lambda r: committed.__setitem__("k", r),
        )
    done = committed["k"]
    assert done.pages >= 2  # the pages before the failure were committed (prefetch may have raised early)
    calls_before, pages_before = lister.calls, done.pages
    result = pull_chunk(
        lister,
        engine,
        "s",
        window,
        None,
        max_pages=20,
        page_size=100,
        resume=done,
        on_page=lambda r: committed.__setitem__("k", r),
    )
    assert result.next_position is None
    assert result.pages == 11  # ten full pages and a last short one
    # no page re-read: the pages left, plus at most one probe of updated_at_min's semantics (a new paginator)
    assert 11 - pages_before <= lister.calls - calls_before <= 12 - pages_before
    assert result.load.new == 1000
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 1000


def test_a_chunk_runs_with_short_gil_turns_and_a_frozen_live_heap_and_undoes_both(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the loader thread's round trips get the GIL back within 0.5 ms instead of 5, and full
    # collections skip the objects alive before the pull (bench/PROFILE.md)
    interval = sys.getswitchinterval()
    frozen = gc.get_freeze_count()
    seen: list[tuple[float, int, bool]] = []

    class Cycle:
        me: object = None

    def cycle() -> tuple[Cycle, weakref.ref[Cycle]]:
        made = Cycle()
        made.me = made  # unreachable once dropped, freed only by a collection
        return made, weakref.ref(made)

    garbage, dead = cycle()
    del garbage
    held: list[Cycle] = []
    dead_in_pull: list[weakref.ref[Cycle]] = []

    def page_done(_: object) -> None:
        seen.append((sys.getswitchinterval(), gc.get_freeze_count(), dead() is None))
        if not dead_in_pull:  # an object the pull keeps a while, old by the time it dies
            made, ref = cycle()
            held.append(made)
            dead_in_pull.append(ref)
            del made
            gc.collect()
            held.clear()

    data = [make_order(i, T0 + timedelta(seconds=i)) for i in range(300)]
    window = PullWindow(None, T0 + timedelta(days=1), incremental=True)
    gc.disable()  # only the pull's own collections run: what they free is what they must free
    try:
        result = pull_chunk(InclusiveLister(data), engine, "s", window, None, page_size=100, on_page=page_done)
        # the pull's old garbage is freed at its end, before the heap is unfrozen
        assert dead_in_pull
        assert dead_in_pull[0]() is None
        # garbage made between two pulls is collected when the next one starts, never frozen with it
        garbage, dead_between = cycle()
        del garbage
        with pull_interpreter():
            assert dead_between() is None
        # an object that died old is frozen with the heap, until a pull sweeps the heap (after enough
        # young collections since the last sweep)
        for since_sweep, swept in ((0, False), (frozen_heap_module.SWEEP_AFTER_YOUNG_COLLECTIONS, True)):
            young = frozen_heap_module.young_collections()
            monkeypatch.setattr(frozen_heap_module, "_young_at_sweep", young - since_sweep)
            garbage, dead_old = cycle()
            held.append(garbage)
            del garbage
            gc.collect()  # survives: old now
            held.clear()
            with pull_interpreter():
                assert (dead_old() is None) is swept
            assert (dead_old() is None) is swept  # the pull's own end sweep skips the frozen heap
            gc.collect()
    finally:
        gc.enable()
    assert result.load.new == 300
    assert len(seen) >= 3  # every committed page
    assert {s for s, _, _ in seen} == {min(PULL_SWITCH_INTERVAL, interval)}
    assert min(f for _, f, _ in seen) > frozen
    # garbage is collected before the freeze, never frozen with the live objects
    assert all(collected for _, _, collected in seen)
    assert sys.getswitchinterval() == interval
    assert gc.get_freeze_count() == frozen
    # nested or concurrent pulls share one tuning; the first one's interval comes back at the end
    with pull_interpreter():
        with pull_interpreter(0.001):
            assert sys.getswitchinterval() == min(PULL_SWITCH_INTERVAL, interval)
        assert sys.getswitchinterval() == min(PULL_SWITCH_INTERVAL, interval)
        assert gc.get_freeze_count() > frozen
    assert sys.getswitchinterval() == interval
    assert gc.get_freeze_count() == frozen
    with pytest.raises(RuntimeError), pull_interpreter():
        raise RuntimeError("a failed pull undoes both too")
    assert sys.getswitchinterval() == interval
    assert gc.get_freeze_count() == frozen


def test_future_dated_orders_are_flagged_once(engine: sa.Engine) -> None:
    now = T0
    records = [
        {"id": "a" * 24, "updated_at": "2027-11-01T00:00:00.000Z"},
        {"id": "b" * 24, "updated_at": "2026-10-31T00:00:00.000Z"},
    ]
    assert flag_future_orders(engine, "s", records, now, run_id="r1") == 1
    assert flag_future_orders(engine, "s", records, now, run_id="r2") == 1
    with engine.connect() as conn:
        rows = conn.execute(sa.select(rejected_records).where(rejected_records.c.source == FUTURE_SOURCE)).all()
    assert len(rows) == 1
    assert rows[0].order_id == "a" * 24
    assert rows[0].run_id == "r2"
    assert "after Wish's clock" in rows[0].reason
