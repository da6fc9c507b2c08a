"""The frozen heap: collections inside a block walk only what the block made, and nothing is kept.

Run with the collector off, so that only the block's own collections free anything.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

import wishflow.frozen_heap as frozen_heap_module
from wishflow.frozen_heap import SWEEP_AFTER_YOUNG_COLLECTIONS, frozen_heap, young_collections


class Cycle:
    """An object in a reference cycle with itself: unreachable once dropped, freed only by a collection."""

    me: object = None


def tracked(obj: object) -> bool:
    """Whether the collector's generations hold ``obj`` (frozen objects are in none of them)."""
    return any(o is obj for o in gc.get_objects())


def dropped_cycle() -> weakref.ref[Cycle]:
    made = Cycle()
    made.me = made
    return weakref.ref(made)


def old_dropped_cycle() -> weakref.ref[Cycle]:
    """A cycle that dies old: it survives a full collection (held), then is dropped."""
    made = Cycle()
    made.me = made
    ref = weakref.ref(made)
    gc.collect()
    del made
    return ref


@pytest.fixture(autouse=True)
def no_sweep_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The blocks of these tests sweep the whole heap only where a test makes them (a sweep just made)."""
    monkeypatch.setattr(frozen_heap_module, "_young_at_sweep", young_collections())


def test_the_block_freezes_what_is_alive_and_hands_it_back(collector_off: None) -> None:
    before = gc.get_freeze_count()
    kept = [Cycle() for _ in range(100)]
    with frozen_heap():
        assert gc.get_freeze_count() >= before + len(kept)
        # what the block makes is not frozen: its own collections see it
        made = Cycle()
        assert tracked(made)
    assert gc.get_freeze_count() == before
    assert tracked(kept[0])  # unfrozen: back in the collector's sight


def test_the_block_s_own_garbage_is_collected_at_its_end(collector_off: None) -> None:
    with frozen_heap():
        dead = dropped_cycle()
        assert dead() is not None
    assert dead() is None


def test_garbage_made_before_the_block_is_collected_when_it_starts_not_frozen(collector_off: None) -> None:
    dead = dropped_cycle()
    with frozen_heap():
        assert dead() is None


def test_garbage_that_died_old_waits_for_the_sweep_made_after_enough_young_collections(collector_off: None) -> None:
    dead = old_dropped_cycle()
    with frozen_heap():
        assert dead() is not None  # frozen with the heap: no sweep this time
    assert dead() is not None  # the block's end skips the frozen heap
    # counted in young collections (the process's allocations), not in blocks
    for _ in range(SWEEP_AFTER_YOUNG_COLLECTIONS - 1):
        gc.collect(0)
    with frozen_heap():
        assert dead() is not None  # one short
    gc.collect(0)
    with frozen_heap():
        assert dead() is None  # swept
    again = old_dropped_cycle()
    with frozen_heap():
        assert again() is not None  # the count starts again from the sweep


def test_the_first_block_of_a_process_sweeps(collector_off: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frozen_heap_module, "_young_at_sweep", None)
    dead = old_dropped_cycle()
    with frozen_heap():
        assert dead() is None


def test_blocks_at_once_share_one_freeze_made_by_the_first_and_undone_by_the_last(collector_off: None) -> None:
    before = gc.get_freeze_count()
    inner_entered, inner_may_leave = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def other() -> None:
        with frozen_heap():
            seen["frozen_inside"] = gc.get_freeze_count()
            inner_entered.set()
            inner_may_leave.wait(5)
            seen["dead"] = dropped_cycle()
        seen["after"] = gc.get_freeze_count()

    with frozen_heap():
        frozen = gc.get_freeze_count()
        thread = threading.Thread(target=other)
        thread.start()
        assert inner_entered.wait(5)
        # the second block froze nothing more (the count may only fall: frozen objects still die of refcounts)
        frozen_inside = seen["frozen_inside"]
        assert isinstance(frozen_inside, int)
        assert frozen_inside <= frozen
        inner_may_leave.set()
        thread.join(5)
        # the first block to end collects its garbage but leaves the heap frozen for the other
        dead = seen["dead"]
        assert isinstance(dead, weakref.ref)
        assert dead() is None
        after = seen["after"]
        assert isinstance(after, int)
        assert after > before  # still frozen for the block that runs on
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before


def test_a_failing_block_undoes_the_freeze(collector_off: None) -> None:
    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), frozen_heap():
        raise RuntimeError("the block failed")
    assert gc.get_freeze_count() == before
