"""Backfill throughput, incremental latency and memory of the real pull and validate flows.

The flows are the real ``pull_orders`` and ``validate_orders``, against a sandbox in its own process and
a PostgreSQL warehouse.

    python -m bench.bench_pull backfill --orders 100000
    python -m bench.bench_pull memory --orders 1000000      (prints the peak RSS of the backfill)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS", "8")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
#: How far before its cursor an incremental run of the benchmark reads again.
INCREMENTAL_LOOKBACK = timedelta(minutes=1)


def point_at(api_url: str, token: str, warehouse_url: str) -> None:
    """Point this process's flows at the sandbox ``api_url`` and the warehouse ``warehouse_url``.

    Through the environment, as a deployment's job variables would, so the flows read their settings
    the way they do in production.
    """
    os.environ.update(
        {
            "WISH_API_BASE_URL": api_url,
            "WISHFLOW_PROFILE": "sandbox",  # a sandbox on a random port, on purpose
            "WISH_ACCESS_TOKEN": token,
            "WISHFLOW_WAREHOUSE_URL": warehouse_url,
        }
    )
    for name in ("WISH_REFRESH_TOKEN", "WISH_CLIENT_ID", "WISH_CLIENT_SECRET"):
        os.environ.pop(name, None)


def warm_up(gx: bool = True) -> None:
    """Connect to Prefect and, with ``gx``, build the GX context before timing.

    Prefect is the server named by PREFECT_API_URL, else the ephemeral API. Connecting and building the
    context are paid once per process, so they stay out of the timed runs.
    """
    from prefect import flow

    @flow(name="bench-warm-up")
    def nothing() -> int:
        return 1

    nothing()
    if gx:
        from wishflow.validation.gx_runtime import gx_runtime

        gx_runtime()


def backfill(api_url: str, token: str, warehouse_url: str) -> dict[str, Any]:
    """Pull every order as a backfill, then validate them all; seconds for each part."""
    from flows.pull_orders import pull_orders
    from flows.validate_orders import validate_orders

    point_at(api_url, token, warehouse_url)
    started = time.perf_counter()
    pulled = pull_orders(since=FAR_PAST, until=datetime.now(UTC) + timedelta(days=400))
    pulled_at = time.perf_counter()
    validated = validate_orders()
    done = time.perf_counter()
    return {
        "orders": pulled["fetched"],
        "pull_seconds": pulled_at - started,
        "validate_seconds": done - pulled_at,
        "seconds": done - started,
        "pages": pulled["pages"],
        "validated": validated.get("validated") if isinstance(validated, dict) else None,
    }


def incremental(
    api_url: str, token: str, warehouse_url: str, admin: Any, new_orders: int = 100, fetched: list[int] | None = None
) -> float:
    """Seconds for one incremental pull + validation of ``new_orders`` fresh orders (warm process).

    How many orders the pull read (the new ones and its look-back's) is appended to ``fetched``.
    """
    from flows.pull_orders import pull_orders
    from flows.validate_orders import validate_orders

    point_at(api_url, token, warehouse_url)
    # released over the last few seconds: new orders are never older than the previous cursor
    admin("POST", "/sandbox/orders", json={"count": new_orders, "spread_seconds": 5})
    admin("POST", "/sandbox/clock", json={"advance_seconds": 60})
    started = time.perf_counter()
    result = pull_orders(lookback=INCREMENTAL_LOOKBACK, safety_lag=timedelta(0))
    validate_orders()
    elapsed = time.perf_counter() - started
    assert result["new"] >= new_orders, result
    if fetched is not None:
        fetched.append(int(result["fetched"]))
    return elapsed


def main() -> int:
    """Run the ``backfill`` or ``memory`` benchmark and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["backfill", "memory"])
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    from bench.common import fresh_database, peak_rss_mb, sandbox_process

    with sandbox_process(orders=args.orders) as sb:
        url = fresh_database(f"wishflow_bench_{args.mode}")
        warm_up()
        base_rss = peak_rss_mb()
        result = backfill(sb.api_url, sb.access_token, url)
        result["peak_rss_mb"] = peak_rss_mb()
        result["rss_before_mb"] = base_rss
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
