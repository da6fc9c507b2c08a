"""Crash injection: the whole order cycle runs in a subprocess that is SIGKILLed at random points
(mid-pull, a few milliseconds after Wish logs a tracking write and before the warehouse records it,
or after a random delay), with some write responses lost on top; reruns until it completes, then a
final clean pull. Every invariant is then checked against the sandbox, which outlived every kill.

CI runs one seed with four kills (about 2-4 minutes on a loaded 2-core box: every process pays for
its imports and for Great Expectations); ``WISHFLOW_RELIABILITY_LONG=1`` (``make reliability``) runs
30 seeds. The subprocesses run the real Prefect flows against the session's one Prefect API.
"""

from __future__ import annotations

import pytest
from harness import LONG, crash_scenario

pytestmark = pytest.mark.postgres

ORDERS = 60
KILLS = 4
LONG_SEEDS = list(range(100, 130))
long_only = pytest.mark.skipif(not LONG, reason="long reliability run: set WISHFLOW_RELIABILITY_LONG=1")


def _check(outcome) -> None:  # type: ignore[no-untyped-def]
    report = outcome.invariants
    assert any(k.killed for k in outcome.kills), "no run was killed: the triggers fired too late"
    assert not report.lost, f"orders lost: {report.lost}"
    assert not report.double_shipped, f"orders shipped twice: {report.double_shipped}"
    assert not report.shipped_while_quarantined, report.shipped_while_quarantined
    assert not report.mismatches, report.mismatches[:10]
    assert report.duplicate_rows == 0
    assert report.accepted_writes > 0, "nothing was shipped: the scenario tested nothing"


def test_sigkill_at_random_points_loses_nothing_and_ships_nothing_twice(fresh_pg, prefect_api_url) -> None:
    outcome = crash_scenario(
        1, orders=ORDERS, kills=KILLS, prefect_api_url=prefect_api_url, warehouse_url=fresh_pg, log=print
    )
    _check(outcome)


@pytest.mark.slow
@long_only
@pytest.mark.parametrize("seed", LONG_SEEDS)
def test_sigkill_many_seeds(seed: int, fresh_pg, prefect_api_url) -> None:
    outcome = crash_scenario(
        seed, orders=ORDERS, kills=KILLS, prefect_api_url=prefect_api_url, warehouse_url=fresh_pg, log=print
    )
    _check(outcome)


#: Write profiles whose processing completes within the request on the harness's frozen clock (the
#: slow ones need the clock advanced: tests/shipping/test_write_profile_matrix.py runs them).
CRASH_PROFILES = ["old-response", "queued", "empty-hidden", "same-number-noop"]


@pytest.mark.slow
@long_only
@pytest.mark.parametrize("write_profile", CRASH_PROFILES)
@pytest.mark.parametrize("seed", LONG_SEEDS[:3])
def test_sigkill_under_write_profiles(seed: int, write_profile: str, fresh_pg, prefect_api_url) -> None:
    outcome = crash_scenario(
        seed,
        orders=ORDERS,
        kills=KILLS,
        prefect_api_url=prefect_api_url,
        warehouse_url=fresh_pg,
        log=print,
        write_profile=write_profile,
    )
    _check(outcome)
