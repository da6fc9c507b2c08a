"""Fault storm: the sandbox fails 10% of requests with 5xx, 5% with 429, 2% with timeouts and 2% with
cut-off bodies, 1% with malformed JSON, adds unknown fields to 5% of responses (schema drift),
loses 5% of write responses after applying the write, and lets the first three tracking writes land
late (processed after the client timed out and, unless it waits for the send to settle, after its
read-back). The order cycle completes with its task
retries, and the warehouse it leaves equals, table by table (run ids, load times and other
per-run values aside), the one a clean run over the same seed leaves.

The flows run in this process under the session's Prefect harness; the Wish client's timeout is
shortened to 1.5 s (the sandbox's injected timeouts hold the response 2.5 s, late writes wait as
long before they are processed) so that a timeout costs seconds, not the production 30 s; a send
then settles after 3 s, twice the client's timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from harness import (
    LONG,
    advance,
    check_invariants,
    diff_tables,
    fresh_postgres,
    normalised_tables,
    point_flows_at,
    record_figure,
    set_faults,
    start_sandbox,
)

pytestmark = pytest.mark.postgres

SEED = 11
#: Orders in the store: each ship is a write, so requests (and faults drawn) grow with it.
ORDERS = 300 if LONG else 80
STORM: dict[str, Any] = {
    "http_500": 0.04,
    "http_502": 0.03,
    "http_503": 0.03,
    "http_429": 0.05,
    "timeout": 0.02,
    "cut_off": 0.02,
    "malformed_json": 0.01,
    "schema_drift": 0.05,
    "response_lost": 0.05,
    "script": [{"kind": "late", "method": "PUT", "path": "/tracking$", "count": 3}],
    "timeout_seconds": 2.5,
}


@contextmanager
def short_client_timeout(seconds: float) -> Iterator[None]:
    from wishflow.api.client import WishClient

    defaults = WishClient.__init__.__kwdefaults__
    assert defaults is not None
    saved = defaults["timeout"]
    defaults["timeout"] = httpx.Timeout(seconds, connect=seconds)
    try:
        yield
    finally:
        defaults["timeout"] = saved


def run_until_complete(max_runs: int = 3) -> int:
    """Run the order cycle until every stage succeeds; returns how many runs it took."""
    from flows.order_cycle import order_cycle

    for attempt in range(1, max_runs + 1):
        state = order_cycle(return_state=True)
        if state.is_completed():
            return attempt
    raise AssertionError(f"the cycle did not complete in {max_runs} runs: {state.message}")


def final_clean_pull(running: Any) -> None:
    from flows.pull_orders import pull_orders

    set_faults(running)
    advance(running, 120)
    pull_orders()


def storm_and_clean(monkeypatch: pytest.MonkeyPatch, pg_admin_url: str, seed: int, orders: int) -> dict[str, Any]:
    """One clean run and one storm run over the same seed; returns what the test and report need."""
    result: dict[str, Any] = {}
    with fresh_postgres(pg_admin_url) as clean_url, fresh_postgres(pg_admin_url) as storm_url:
        clean = start_sandbox(seed, orders)
        try:
            point_flows_at(monkeypatch, clean, clean_url)
            result["clean_runs"] = run_until_complete(1)
            final_clean_pull(clean)
            result["clean_invariants"] = check_invariants(clean, clean_url)
        finally:
            clean.stop()
        storm = start_sandbox(seed, orders)
        try:
            point_flows_at(monkeypatch, storm, storm_url)
            monkeypatch.setenv("WISHFLOW_WRITE_SETTLE_SECONDS", "3")  # twice the shortened client timeout
            set_faults(storm, **STORM)
            with short_client_timeout(1.5):
                result["storm_runs"] = run_until_complete(3)
            result["faults"] = injected_faults(storm)
            final_clean_pull(storm)
            result["storm_invariants"] = check_invariants(storm, storm_url)
        finally:
            storm.stop()
        result["diff"] = diff_tables(normalised_tables(clean_url), normalised_tables(storm_url))
    return result


def injected_faults(running: Any) -> dict[str, int]:
    """Faults the sandbox injected, by kind (its request statistics count them as ``fault:<kind>``)."""
    stats = running.sandbox.stats()
    counts: dict[str, int] = {}
    for outcomes in stats["requests"].values():
        for outcome, n in outcomes.items():
            if str(outcome).startswith("fault:"):
                kind = str(outcome).removeprefix("fault:")
                counts[kind] = counts.get(kind, 0) + n
    return dict(sorted(counts.items()))


def test_fault_storm_leaves_the_same_warehouse_as_a_clean_run(
    monkeypatch: pytest.MonkeyPatch, pg_admin_url: str, prefect_harness
) -> None:
    result = storm_and_clean(monkeypatch, pg_admin_url, SEED, ORDERS)
    print("faults injected:", result["faults"], "storm runs:", result["storm_runs"])
    for key in ("clean_invariants", "storm_invariants"):
        report = result[key]
        assert report.ok, (key, report.summary(), report.mismatches[:5])
    assert result["storm_invariants"].accepted_writes > 0
    assert len(result["faults"]) >= 5, result["faults"]  # most kinds drawn, seeded
    assert result["faults"].get("late") == 3, result["faults"]
    assert result["diff"] == []
    record_figure(
        "fault_storm",
        seed=SEED,
        orders=ORDERS,
        faults=result["faults"],
        storm_runs=result["storm_runs"],
        lost=len(result["storm_invariants"].lost),
        double_shipped=len(result["storm_invariants"].double_shipped),
        shipped=result["storm_invariants"].accepted_writes,
        tables_differing=len(result["diff"]),
    )
