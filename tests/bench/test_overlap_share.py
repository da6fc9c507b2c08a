"""The overlap figure bench/RESULTS.md reports against issue 20's goal (wall time near the larger CPU time)."""

from __future__ import annotations

import pytest

from bench.run import overlap_share


@pytest.mark.parametrize(
    ("loader", "postgres", "wall", "share"),
    [
        (8.0, 6.0, 14.0, 0.0),  # one after the other: the wall time is the sum
        (8.0, 6.0, 8.0, 1.0),  # all of PostgreSQL's time hidden under Python's
        (8.8, 7.3, 11.95, (8.8 + 7.3 - 11.95) / 7.3),  # the pull on 2026-12-06, about 57%
        (6.0, 6.0, 15.0, 0.0),  # waiting for a core counts as not overlapping, never below 0
        (0.0, 0.0, 1.0, 0.0),
    ],
)
def test_the_share_of_the_time_that_could_overlap_and_did(
    loader: float, postgres: float, wall: float, share: float
) -> None:
    figures = {"cpu_seconds": loader, "postgres_cpu": postgres, "seconds": wall}
    assert overlap_share(figures) == pytest.approx(share)
