"""Validation beside the pull, in a second process: does overlapping them buy anything on this machine?

The loader benchmark's ``pull_follow`` kind (not in ``make bench``: an experiment kept for its
answer, bench/PROFILE.md). While ``pull_orders`` runs, a spawned process judges what the pull has
committed so far (``validate_pending``, the library loop the flow's tasks wrap), over and over
until the pull has ended and nothing is pending; then ``validate_orders`` runs as in
``pull_validate`` (leftovers, the views, artifacts). The follower reports the CPU and peak memory
of its timed part itself, so the benchmark's loader column counts both processes.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

#: How long the follower waits when nothing is pending and the pull has not ended.
IDLE_SECONDS = 0.2


def _follow(url: str, store: str, pulled: Any, ready: Any, cpu: Any, peak: Any) -> None:
    from bench.common import peak_rss_mb
    from wishflow.validation.gx_runtime import gx_runtime
    from wishflow.validation.pipeline import validate_pending
    from wishflow.warehouse.engine import make_engine

    gx_runtime()  # GX's import and context before the clock starts, as the one-process kind does
    engine = make_engine(url)
    started = time.process_time()
    ready.set()
    batch = 0
    while True:
        ended = pulled.is_set()  # read before the queue: whatever the pull wrote is queued by then
        batch += 1
        judged = validate_pending(engine, store, f"bench-follower-{batch}")["validated"]
        if ended and not judged:
            break
        if not judged:
            time.sleep(IDLE_SECONDS)
    engine.dispose()
    cpu.value = time.process_time() - started
    peak.value = peak_rss_mb()


@dataclass
class Follower:
    """The running follower process and what it reports."""

    process: Any
    pulled: Any
    cpu: Any
    peak: Any

    def finish(self) -> tuple[float, float]:
        """Tell it the pull has ended, wait for it; its CPU seconds and peak RSS (MB)."""
        self.pulled.set()
        self.process.join()
        if self.process.exitcode != 0:
            raise RuntimeError(f"the validation follower failed (exit code {self.process.exitcode})")
        return float(self.cpu.value), float(self.peak.value)


def start_follower(url: str, store: str = "default") -> Follower:
    """Spawn the follower and wait until it is ready to judge (imports paid)."""
    ctx = mp.get_context("spawn")  # not fork: this process runs Prefect's threads
    pulled, ready = ctx.Event(), ctx.Event()
    cpu, peak = ctx.Value("d", 0.0), ctx.Value("d", 0.0)
    process = ctx.Process(target=_follow, args=(url, store, pulled, ready, cpu, peak), daemon=True)
    process.start()
    if not ready.wait(timeout=300):
        process.terminate()
        raise RuntimeError("the validation follower did not start within 300 s")
    return Follower(process, pulled, cpu, peak)
