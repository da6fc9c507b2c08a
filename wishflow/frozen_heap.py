"""Keep the cyclic garbage collector off the objects that outlive a block of work.

A process that pulls or validates holds a few hundred thousand long-lived objects (the imports,
Prefect's, Great Expectations' context) before it touches an order. Python's full collections walk
all of them each time: a pull's parsing allocates thousands of containers per page, which triggered
a full collection every ~2,500 orders (a quarter of the pull's CPU), and each validation batch ends
with a full collection that frees what GX's parser left in reference cycles (0.11-0.12 s with GX
loaded, bench/PROFILE.md). :func:`frozen_heap` moves the objects alive when a block starts out of
the collector's sight (:func:`gc.freeze`), so the collections during and at the end of the block
walk only what the block made; at its end everything frozen is handed back (:func:`gc.unfreeze`),
so nothing is kept for good.

The freeze keeps garbage for a while at most. The block starts with a young-generation collection,
so what just died is not frozen; and it ends with a collection while the heap is still frozen,
which frees the block's own garbage. Objects that die old between two blocks (Prefect's task-run
bookkeeping, ~0.7 MB per pull chunk) are frozen with the heap and would wait for a collection
outside any block, so a block sweeps the whole heap before freezing it once the process has made
:data:`SWEEP_AFTER_YOUNG_COLLECTIONS` young collections since the last sweep (without the sweeps,
the pull flow's peak at 1M orders grew from 240 to 313 MB). Counted in allocations, not in blocks:
garbage accumulates with the work done, and a sweep costs 0.2 s in a process with GX loaded, which
one incremental run in two paid when every fourth block swept (bench/PROFILE.md).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: A freezing block sweeps the whole heap first when the process has made this many young
#: collections since the last sweep (the first block always sweeps). A chunk of a backfill's pull
#: (10,000 orders) makes about 280, so a backfill sweeps every fourth chunk or so, as it did when
#: sweeps were counted in blocks; an incremental run (a few hundred orders pulled and validated)
#: makes far fewer, and sweeps once in several runs.
SWEEP_AFTER_YOUNG_COLLECTIONS = 1_000

_lock = threading.Lock()
_users = 0  # blocks running now, in any thread: the first one freezes, the last one unfreezes
_young_at_sweep: int | None = None  # the young collections counted at the last sweep; None: none yet


def young_collections() -> int:
    """How many collections of the youngest generation this process has made."""
    return int(gc.get_stats()[0]["collections"])


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze the objects alive when the block starts; collect only the block's own at its end.

    Process-wide (the collector is the interpreter's): blocks running at once in one process, in
    threads, share one freeze, made by the first and undone by the last; each one's end collects
    what is not frozen (the garbage the blocks made), which walks no frozen object.
    """
    global _users, _young_at_sweep  # noqa: PLW0603 - the interpreter's collector, counted
    with _lock:
        if _users == 0:
            young = young_collections()
            if _young_at_sweep is None or young - _young_at_sweep >= SWEEP_AFTER_YOUNG_COLLECTIONS:
                # first frees what died old since the last sweep (see above)
                gc.collect()
                _young_at_sweep = young_collections()
            else:
                gc.collect(1)
            gc.freeze()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            gc.collect()  # the frozen heap is skipped: only what was made since the freeze is walked
            if _users == 0:
                gc.unfreeze()
