"""Profile incremental runs (100 new orders pulled and validated) at two history sizes.

Finds what in an incremental run grows with the history rather than with the new orders:

    python -m bench.profile_incremental serve --histories 10000 200000   # load, print, wait
    python -m bench.profile_incremental run API_URL TOKEN WAREHOUSE_URL --runs 5 [--cprofile FILE]

``serve`` starts a ``prefect server``, one sandbox per history and a fresh PostgreSQL warehouse each
(history pulled and validated in processes of their own, then ``VACUUM ANALYZE``, as
``bench.run``'s ``bench_incremental`` does), prints how to reach them as JSON lines and waits (the
sandboxes' order books and clocks live in their processes, so the same warehouses can be measured
again after a code change). ``run`` is one warm process: one untimed incremental run, then
``--runs`` timed ones, each with its SQL statements timed by SQLAlchemy's cursor events; it prints
the median seconds (wall, and this process's CPU) and the statements' total time per statement text,
slowest first. The figures of issue 20's item 6 in bench/PROFILE.md come from it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from typing import Any

from bench.bench_pull import incremental, point_at, warm_up


def serve(histories: list[int]) -> int:
    """Load each history into its own warehouse and keep the sandboxes up until interrupted."""
    from contextlib import ExitStack

    from bench.common import fresh_database, prefect_server_process, sandbox_process
    from bench.run import _load_history

    with ExitStack() as stack:
        api = stack.enter_context(prefect_server_process())
        print(json.dumps({"PREFECT_API_URL": api}), flush=True)
        for history in histories:
            sb = stack.enter_context(sandbox_process(orders=history))
            url = fresh_database(f"wishflow_profile_history_{history}")
            started = time.perf_counter()
            _load_history(sb.api_url, sb.access_token, url)
            print(
                json.dumps(
                    {
                        "history": history,
                        "api": sb.api_url,
                        "admin": sb.base_url,
                        "token": sb.access_token,
                        "url": url,
                        "load_seconds": round(time.perf_counter() - started, 1),
                    }
                ),
                flush=True,
            )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    return 0


class _StatementTimer:
    """Seconds per SQL statement text, from SQLAlchemy's cursor events on every engine."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.on = False

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, *_: Any) -> None:
        conn.info.setdefault("_t0", []).append(time.perf_counter())

    def _after(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info["_t0"].pop()
        if self.on:
            key = " ".join(statement.split())[:160]
            self.seconds[key] += time.perf_counter() - started
            self.calls[key] += 1


def run(api_url: str, token: str, url: str, runs: int, cprofile: str | None) -> dict[str, Any]:
    """Median seconds of ``runs`` incremental runs and the statements' time per run."""
    import httpx

    base = api_url.removesuffix("/api/v3")

    def admin(method: str, path: str, **kw: Any) -> Any:
        r = httpx.request(method, f"{base}{path}", timeout=600, **kw)
        r.raise_for_status()
        return r.json()

    timer = _StatementTimer()
    timer.install()
    warm_up()
    point_at(api_url, token, url)
    incremental(api_url, token, url, admin)  # first run pays imports
    timer.on = True
    seconds: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        started = time.process_time()
        seconds.append(incremental(api_url, token, url, admin))
        cpu.append(time.process_time() - started)
    timer.on = False
    if cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        incremental(api_url, token, url, admin)
        profiler.disable()
        profiler.dump_stats(cprofile)
    top = sorted(timer.seconds.items(), key=lambda kv: -kv[1])[:25]
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "runs": runs,
        "cpu_median": statistics.median(cpu),
        "sql_seconds_per_run": sum(timer.seconds.values()) / runs,
        "statements": [
            {"ms_per_run": round(s / runs * 1000, 1), "calls_per_run": timer.calls[k] / runs, "sql": k} for k, s in top
        ],
    }


def main() -> int:
    """``serve`` or ``run`` (see the module's docstring)."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--histories", type=int, nargs="+", default=[10_000, 200_000])
    r = sub.add_parser("run")
    r.add_argument("api_url")
    r.add_argument("token")
    r.add_argument("url")
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--cprofile")
    args = parser.parse_args()
    if args.mode == "serve":
        return serve(args.histories)
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    print(json.dumps(run(args.api_url, args.token, args.url, args.runs, args.cprofile), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
