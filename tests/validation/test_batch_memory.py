"""A validated batch's frames are freed when the validation returns, not at Python's next full collection.

GX's suite-parameter parser (pyparsing) raises and catches exceptions whose tracebacks hold the
validation's frames, and through them the batch's DataFrames, in reference cycles; left to
Python's own schedule, two batches' frames were now and then alive at once (+40 MB at a 50,000-order
batch, bench/PROFILE.md). These tests run with the collector off, so only what the validation
frees itself counts.
"""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime

import pandas as pd
import pytest

from tests.validation.conftest import good_order
from wishflow.validation import gx_runtime
from wishflow.validation.validate import validate_frame

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _batch(rows: int) -> pd.DataFrame:
    return pd.DataFrame([good_order(f"{i:024x}") for i in range(rows)])


def _alive_after_validation(rows: int) -> bool:
    frame = _batch(rows)
    ref = weakref.ref(frame)
    outcome = validate_frame(frame, NOW)
    assert outcome.rows == rows
    del frame, outcome
    return ref() is not None


def test_a_large_batch_is_freed_when_its_validation_returns(collector_off: None) -> None:
    assert not _alive_after_validation(gx_runtime.COLLECT_AFTER_ROWS)


def test_without_the_collection_the_parser_s_cycles_keep_the_batch(
    collector_off: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the premise of the collection: were GX's parser to stop leaving cycles, it could go
    monkeypatch.setattr(gx_runtime, "COLLECT_AFTER_ROWS", 10**9)
    assert _alive_after_validation(1_000)


def test_the_batch_s_collection_walks_only_what_the_batch_made(collector_off: None) -> None:
    # the long-lived heap (GX's context, the imports) is frozen while a large batch runs, so the
    # collection that frees the batch does not walk it again (wishflow.frozen_heap)
    before = gc.get_freeze_count()
    full_collections: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full_collections.append(gc.get_freeze_count())

    gc.callbacks.append(seen)
    try:
        assert not _alive_after_validation(gx_runtime.COLLECT_AFTER_ROWS)
    finally:
        gc.callbacks.remove(seen)
    assert full_collections
    assert all(frozen > before for frozen in full_collections[1:])  # the first may be the heap's sweep
    assert full_collections[-1] > before  # the one that freed the batch
    assert gc.get_freeze_count() == before  # handed back
