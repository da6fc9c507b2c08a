"""The one Great Expectations context of the process, built on first use.

Importing GX costs ~4.7 s (DESIGN.md §7), so nothing here imports it at module import time: the
first validation pays once and every later batch reuses the same ephemeral context, data source and
batch definition. Usage analytics and tqdm progress bars are switched off before GX starts, because
our machines are offline and progress bars clutter flow logs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from wishflow.allocator import hold_mmap_threshold, trim_heap
from wishflow.frozen_heap import frozen_heap
from wishflow.validation.column_domains import install as install_column_domains
from wishflow.validation.configuration_cache import install as install_configuration_cache
from wishflow.validation.deferred_imports import defer as defer_gx_unused_imports
from wishflow.validation.metric_ids import install as install_metric_ids

_lock = threading.Lock()
_validate_lock = threading.Lock()
_runtime: GXRuntime | None = None


@dataclass(frozen=True)
class GXRuntime:
    """The cached GX objects: the module, the context and a whole-dataframe batch definition."""

    gx: Any
    context: Any
    batch_definition: Any
    suites: dict[str, Any]


def gx_runtime() -> GXRuntime:
    """The process-wide GX runtime, created (and GX imported) on the first call."""
    global _runtime
    if _runtime is not None:
        return _runtime
    with _lock:
        if _runtime is None:
            _runtime = _build()
    return _runtime


def _build() -> GXRuntime:
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    # batches' column arrays go back to the system when dropped, not to a heap that only grows
    hold_mmap_threshold()
    # altair and scipy.stats: 82 MB of GX's import, for an expectation our suites never use
    defer_gx_unused_imports()
    import great_expectations as gx
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX fingerprints every in-memory frame under 1 GB by hashing all its cells (the batch's
    # ``pandas_data_fingerprint`` marker), once per suite run and once per ``get_batch``: three full
    # hashes per batch, ~0.6 s per 100k orders. Nothing reads the marker (our results name orders),
    # so frames are never fingerprinted.
    pandas_engine.HASH_THRESHOLD = 0

    from great_expectations.expectations.expectation import Expectation

    from wishflow.validation.suites import build_suites

    # 8,000 rebuilds of the same configurations per batch otherwise (configuration_cache.py)
    install_configuration_cache(Expectation)
    # ~160 copies of the whole batch per validation otherwise, for rules reading a column (column_domains.py)
    install_column_domains(pandas_engine.PandasExecutionEngine)
    # ~3,300 metric ids per batch, each through GX's all-purpose JSON conversion otherwise (metric_ids.py)
    install_metric_ids()

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("wishflow_frames")
    asset = source.add_dataframe_asset("orders")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
    suites = {suite.name: context.suites.add(suite) for suite in build_suites(gx)}
    return GXRuntime(gx=gx, context=context, batch_definition=batch_definition, suites=suites)


def release_batch(batch: Any) -> None:
    """Drop what GX's execution engine keeps of ``batch`` once it is validated: its frame and metrics.

    The engine keeps the last batch it loaded (its ``batch_manager``) and every metric it computed
    (``_metric_cache``: a mask or a series of the batch's length per rule and column), so that a
    later validation of the same data can reuse them. Ours never does: each batch is a new frame,
    and every metric a suite needs is computed again in its own run (GX reads its cache only for a
    dependency the run did not compute). Kept, a 50,000-order batch's prepared frame and metrics
    (~38 MB and ~20 MB) stayed alive while the next batch was read and validated, and the cache
    grew by a few entries per batch (bench/PROFILE.md).
    """
    engine = batch.data.execution_engine
    engine.batch_manager.batch_data_cache.clear()
    engine.batch_manager.reset_batch_cache()
    drop_metrics(batch)


def drop_metrics(batch: Any) -> None:
    """Drop the metrics GX's engine computed on ``batch``: a suite's run does not read another's.

    Dropped between the blocking and the warning suite, the first suite's masks and series are
    not alive while the second computes its own (bench/PROFILE.md).
    """
    cache = getattr(batch.data.execution_engine, "_metric_cache", None)  # GX 1.x's; nothing to drop without it
    if isinstance(cache, dict):
        cache.clear()


#: Batches at least this large end with a collection of what they made (:func:`batch_collection`);
#: a smaller one holds too little for it to pay (an incremental run's 100 orders).
COLLECT_AFTER_ROWS = 10_000


@contextlib.contextmanager
def batch_collection(rows: int) -> Iterator[None]:
    """Free the reference cycles a validation of ``rows`` orders leaves, when it ends.

    GX parses suite parameters with pyparsing, which raises and catches exceptions as it tries
    its grammar's alternatives. Each caught exception's traceback holds the frames it passed
    through, and through them GX's batch, our prepared frame and the caller's: a reference cycle
    that only a collection frees. Python's own schedule ran that collection batches later now
    and then, so two batches' frames were alive at once: +40 MB at a 50,000-order batch's peak, the
    1M validation's peak 322-329 MB (bench/PROFILE.md). The batch runs in a frozen heap
    (:func:`~wishflow.frozen_heap.frozen_heap`), so the collection at its end walks only what the
    batch made, not GX's and Prefect's long-lived objects (a full collection cost 0.11-0.12 s with
    GX loaded). The heap's pages freed then go back to the system (:func:`~wishflow.allocator.trim_heap`).
    """
    if rows < COLLECT_AFTER_ROWS:
        yield
        return
    try:
        with frozen_heap():
            yield
    finally:
        trim_heap()


def validation_lock() -> threading.Lock:
    """Serialises validations: the shared context and batch definition are not thread-safe."""
    return _validate_lock
