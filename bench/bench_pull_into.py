"""Backfill a sandbox's orders into a warehouse in a fresh process and report its peak RSS.

    python -m bench.bench_pull_into pull API_URL TOKEN WAREHOUSE_URL       # the pull_orders flow
    python -m bench.bench_pull_into validate API_URL TOKEN WAREHOUSE_URL   # then validate_orders

Each stage runs in a process of its own, as its deployment does under a process worker, so the
pull's process never imports Great Expectations. The peak is read after the imports and after the
stage: the pull streams pages, so its peak should not grow with the backfill; validation holds one
batch of orders (``batch_size``) as a DataFrame and GX's result on it.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.bench_pull import FAR_PAST, point_at, warm_up
from bench.common import peak_rss_mb


def run_stage(stage: str, api_url: str, token: str, url: str) -> dict[str, Any]:
    """Run the ``pull`` or ``validate`` stage into ``url``; its seconds and peak RSS before and after."""
    warm_up(gx=stage == "validate")  # the pull's process never imports GX
    point_at(api_url, token, url)
    before = peak_rss_mb()
    started = time.perf_counter()
    if stage == "pull":
        from flows.pull_orders import pull_orders

        result = pull_orders(since=FAR_PAST, until=datetime.now(UTC) + timedelta(days=400))
        out = {"orders": result["fetched"], "pages": result["pages"]}
    else:
        from flows.validate_orders import validate_orders

        result = validate_orders()
        out = {"validated": result["validated"], "batches": result["batches"]}
    return {
        "stage": stage,
        **out,
        "seconds": time.perf_counter() - started,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> int:
    """Run the stage named on the command line and print its figures as one JSON line."""
    stage, api_url, token, url = sys.argv[1:5]
    if stage not in ("pull", "validate"):
        raise SystemExit("stage must be pull or validate")
    print(json.dumps(run_stage(stage, api_url, token, url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
