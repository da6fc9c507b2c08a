"""One loader, one backfill, in a process of its own: its time, its CPU and its peak RSS.

    python -m bench.loader_run KIND API_URL TOKEN WAREHOUSE_URL

KIND is ``plain`` (bench.plain_loader), ``dlt_default`` / ``dlt_tuned`` (bench.bench_dlt),
``library`` (Wishflow's pull through the library alone, no Prefect), ``pull`` (the ``pull_orders``
flow), ``pull_validate`` (``pull_orders`` then ``validate_orders`` in the same process) or
``pull_follow`` (the same, with validation following the pull in a second process: bench.follower).

Imports and warm-up happen first; then the process prints ``START`` and loads, and prints one JSON
line: orders, seconds, the CPU seconds of this process (all threads) over the load, and its peak
RSS (``VmHWM``: the process's own, imports included). The parent measures the other processes'
CPU between the two lines (:mod:`bench.cpu`).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

KINDS = ("plain", "dlt_default", "dlt_tuned", "library", "pull", "pull_validate", "pull_follow")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _library(api_url: str, token: str, url: str) -> int:
    from pydantic import SecretStr

    from bench.bench_pull import FAR_PAST
    from wishflow.api.auth import TokenSet
    from wishflow.api.client import WishClient
    from wishflow.pull import PullWindow, pull_chunk
    from wishflow.warehouse.engine import make_engine

    engine = make_engine(url)
    window = PullWindow(FAR_PAST, datetime.now(UTC) + timedelta(days=400), incremental=False)
    n = 0
    with WishClient(api_url, TokenSet(SecretStr(token))) as client:
        position = None
        while True:
            chunk = pull_chunk(client, engine, "default", window, position, max_pages=20)
            n += chunk.load.fetched
            position = chunk.next_position
            if position is None:
                break
    engine.dispose()
    return n


def run(kind: str, api_url: str, token: str, url: str) -> dict[str, Any]:
    """Run loader ``kind`` once from the sandbox at ``api_url`` into ``url``; its figures."""
    from bench.common import peak_rss_mb

    out: dict[str, Any] = {"kind": kind}
    if kind == "plain":
        from bench import plain_loader

        dsn = url.replace("postgresql+psycopg2://", "postgresql://")
        go: Any = lambda: plain_loader.run(api_url, token, dsn)  # noqa: E731
    elif kind.startswith("dlt_"):
        import dlt  # noqa: F401 - imported before the clock starts, like the others' imports

        from bench import bench_dlt

        dsn = url.replace("postgresql+psycopg2://postgres@", "postgresql://postgres:postgres@")
        go = lambda: bench_dlt.run(api_url, token, dsn, tuned=kind == "dlt_tuned")[0]  # noqa: E731
    elif kind == "library":
        import wishflow.pull  # noqa: F401

        go = lambda: _library(api_url, token, url)  # noqa: E731
    else:
        from bench.bench_pull import FAR_PAST, point_at, warm_up

        warm_up(gx=kind != "pull")
        point_at(api_url, token, url)
        from flows.pull_orders import pull_orders

        follower = None
        if kind == "pull_follow":
            from bench.follower import start_follower

            follower = start_follower(url)

        def go() -> int:
            pulled = pull_orders(since=FAR_PAST, until=datetime.now(UTC) + timedelta(days=400))
            out["pull_seconds"] = time.perf_counter() - started
            out["pages"] = pulled["pages"]
            if follower is not None:
                out["follower_cpu_seconds"], out["follower_peak_rss_mb"] = follower.finish()
            if kind != "pull":
                from flows.validate_orders import validate_orders

                validate_orders()
            return int(pulled["fetched"])

    out["rss_before_mb"] = peak_rss_mb()
    print("START", flush=True)
    cpu0 = _cpu()
    started = time.perf_counter()
    out["orders"] = go()
    out["seconds"] = time.perf_counter() - started
    # a follower's CPU is the loader's too (its own process, bench.follower)
    out["cpu_seconds"] = _cpu() - cpu0 + out.get("follower_cpu_seconds", 0.0)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def main() -> int:
    """Run the loader named on the command line and print its figures as one JSON line."""
    kind, api_url, token, url = sys.argv[1:5]
    if kind not in KINDS:
        raise SystemExit(f"KIND must be one of {', '.join(KINDS)}")
    print(json.dumps(run(kind, api_url, token, url)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
