"""What a pull pays for orders it has recorded already: a window pulled, then pulled again.

Every incremental run re-reads its look-back, and a backfill re-run reads what is recorded; a
re-read order whose stored version is as new is set aside before it is parsed
(:mod:`wishflow.warehouse.stored_versions`). This times the library pull (no Prefect) over the
pre-rendered list server into a fresh database, then the same window again into that database.
With ``WISHFLOW_BENCH_BASE_SRC`` set (an earlier commit's files with this bench/ copied in), that
tree runs too, alternated, for a before/after in the same run::

    python -m bench.bench_reread --orders 100000 --runs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT, fresh_database, prerendered_process


def _library_pull(src: Path, api_url: str, token: str, url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.loader_run", "library", api_url, token, url],
        capture_output=True,
        text=True,
        cwd=src,
        env=env,
        timeout=1800,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(proc.stderr[-3000:])
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main() -> int:
    """Print one table row per tree and run (markdown, for bench/PROFILE.md)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    trees = {"this tree": ROOT}
    if base := os.environ.get("WISHFLOW_BENCH_BASE_SRC"):
        trees = {"base": Path(base), **trees}
    print("| tree | first pull: s (loader CPU s) | the same window again: s (loader CPU s) |")
    print("|---|---|---|")
    with prerendered_process(orders=args.orders) as server:
        for _ in range(args.runs):
            for name, src in trees.items():
                url = fresh_database(f"wishflow_bench_reread_{'base' if name == 'base' else 'this'}")
                first, again = (_library_pull(src, server.api_url, server.access_token, url) for _ in range(2))
                print(
                    f"| {name} | {first['seconds']:.2f} ({first['cpu_seconds']:.2f})"
                    f" | {again['seconds']:.2f} ({again['cpu_seconds']:.2f}) |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
