"""Every loader against the same list server, side by side: orders/s, CPU per process, peak RSS.

    python -m bench.bench_loaders --orders 20000 --runs 1 [--server prerendered|sandbox] [--kinds plain,pull]

Each run backfills a fresh PostgreSQL database in a fresh process (:mod:`bench.loader_run`), so
every loader's peak RSS is its own. Between the child's ``START`` and its result, this process
reads the CPU seconds of the list server, of ``prefect server`` (when one runs) and of the
database's PostgreSQL backends (:mod:`bench.cpu`); the child reports its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench import common
from bench.common import ROOT, RunningSandboxProcess, fresh_database, prerendered_process, sandbox_process
from bench.cpu import PostgresBackends, descendants, tree_cpu_seconds

#: in the order of the report's table (``@base``: the same loader from an earlier commit, see measure)
KINDS = (
    "plain",
    "dlt_tuned",
    "dlt_default",
    "library@base",
    "library",
    "pull@base",
    "pull",
    "pull_validate@base",
    "pull_validate",
    "pull_follow",
)
#: run only when named (``--kinds``): experiments kept for their answer (bench.follower, PROFILE.md)
EXPERIMENTS = ("pull_follow",)
#: ``make bench``'s: neither the earlier commit's nor the experiments
DEFAULT_KINDS = tuple(k for k in KINDS if "@" not in k and k not in EXPERIMENTS)
LABELS = {
    "plain": "plain pipelined loader (httpx + orjson + COPY + upsert, loads in a 2nd thread)",
    "dlt_tuned": "dlt rest_api, tuned (csv, no compression)",
    "dlt_default": "dlt rest_api, defaults",
    "library": "Wishflow library pull, no Prefect",
    "pull": "Wishflow `pull_orders` flow",
    "pull_validate": "Wishflow `pull_orders` + `validate_orders` (one process)",
    "pull_follow": "Wishflow `pull_orders`, validation following it in a 2nd process, then `validate_orders`",
    "library@base": "Wishflow library pull, no Prefect, before this round",
    "pull@base": "Wishflow `pull_orders` flow, before this round",
    "pull_validate@base": "Wishflow `pull_orders` + `validate_orders` (one process), before this round",
}


def measure(kind: str, server: RunningSandboxProcess) -> dict[str, Any]:
    """One backfill by ``kind`` into a fresh database, with the CPU of every process involved.

    ``KIND@base`` runs ``KIND`` from the source tree named by ``WISHFLOW_BENCH_BASE_SRC`` (an
    earlier commit's files with this bench/ copied in), for a before/after ratio in the same run.
    """
    kind, _, variant = kind.partition("@")
    cwd = ROOT
    if variant:
        base = os.environ.get("WISHFLOW_BENCH_BASE_SRC")
        if not base:
            raise RuntimeError(f"{kind}@{variant} needs WISHFLOW_BENCH_BASE_SRC")
        cwd = Path(base)
    # a suffix keeps a second benchmark on the same server off the first one's databases
    db = f"wishflow_bench_{kind}{'_' + variant if variant else ''}{os.environ.get('WISHFLOW_BENCH_DB_SUFFIX', '')}"
    url = fresh_database(db)
    server_pids = descendants(server.process.pid)
    prefect_pids = descendants(common.PREFECT_SERVER_PID) if common.PREFECT_SERVER_PID else []
    backends = PostgresBackends(common.PG_ADMIN_URL, db)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.loader_run", kind, server.api_url, server.access_token, url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    result: dict[str, Any] | None = None
    server0 = prefect0 = 0.0
    for line in proc.stdout:
        if line.strip() == "START":
            backends.start()
            server0, prefect0 = tree_cpu_seconds(server_pids), tree_cpu_seconds(prefect_pids)
        elif line.startswith("{"):
            result = json.loads(line)
            break
    server1, prefect1 = tree_cpu_seconds(server_pids), tree_cpu_seconds(prefect_pids)
    pg = backends.stop() if backends._thread is not None else 0.0
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"{kind} failed: {err[-3000:]}")
    result.update(server_cpu=server1 - server0, prefect_cpu=prefect1 - prefect0, postgres_cpu=pg)
    result["rate"] = result["orders"] / result["seconds"]
    return result


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the figures over ``runs`` (one dict per run), with the run count."""
    keys = ("rate", "seconds", "cpu_seconds", "server_cpu", "prefect_cpu", "postgres_cpu", "peak_rss_mb")
    out: dict[str, Any] = {k: _median(runs, k) for k in keys}
    out.update(
        runs=len(runs),
        orders=runs[0]["orders"],
        rate_min=min(r["rate"] for r in runs),
        rate_max=max(r["rate"] for r in runs),
        detail=runs,
    )
    if "pull_seconds" in runs[0]:
        out["pull_seconds"] = _median(runs, "pull_seconds")
    return out


def bench_loaders(orders: int, runs: int, server_kind: str, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Each loader ``runs`` times, interleaved (so a noisy minute hits them all alike).

    By default every loader but the experiments, with the ``@base`` ones when
    ``WISHFLOW_BENCH_BASE_SRC`` names an earlier tree.
    """
    if kinds is None:
        with_base = tuple(k for k in KINDS if k not in EXPERIMENTS)
        kinds = with_base if os.environ.get("WISHFLOW_BENCH_BASE_SRC") else DEFAULT_KINDS
    starter: AbstractContextManager[RunningSandboxProcess] = (
        prerendered_process(orders) if server_kind == "prerendered" else sandbox_process(orders=orders)
    )
    raw: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    errors: list[str] = []
    with starter as server:
        for _ in range(runs):
            for kind in kinds:
                try:
                    raw[kind].append(measure(kind, server))
                except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
                    errors.append(f"{kind}: {type(exc).__name__}: {str(exc)[-300:]}")
    out: dict[str, Any] = {"orders": orders, "server": server_kind, "errors": errors}
    out["loaders"] = {k: summarise(v) for k, v in raw.items() if v}
    return out


def table(result: dict[str, Any]) -> list[str]:
    """The side-by-side table, each figure also as a ratio to the plain loader's."""
    loaders = result["loaders"]
    plain = loaders.get("plain")
    lines = [
        "| loader | orders/s | × plain | peak RSS | CPU s: loader / list server / PostgreSQL / prefect server"
        " | PostgreSQL CPU per order × plain | wall ÷ (loader + PostgreSQL CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        x = loaders.get(kind)
        if x is None:
            continue
        ratio = f"{x['rate'] / plain['rate']:.2f}×" if plain else "-"
        pg_ratio = "-"
        if plain and plain["postgres_cpu"]:
            pg_ratio = f"{(x['postgres_cpu'] / x['orders']) / (plain['postgres_cpu'] / plain['orders']):.2f}×"
        overlap = x["seconds"] / max(1e-9, x["cpu_seconds"] + x["postgres_cpu"])
        lines.append(
            f"| {LABELS[kind]} | {x['rate']:,.0f} (min {x['rate_min']:,.0f}, max {x['rate_max']:,.0f},"
            f" {x['runs']} runs)"
            f" | {ratio} | {x['peak_rss_mb']:.0f} MB | {x['cpu_seconds']:.1f} / {x['server_cpu']:.1f} /"
            f" {x['postgres_cpu']:.1f} / {x['prefect_cpu']:.1f} | {pg_ratio} | {overlap:.2f} |"
        )
    for error in result.get("errors", []):
        lines.append(f"| (failed) {error} | - | - | - | - | - | - |")
    return lines


def main() -> int:
    """Compare the loaders on one sandbox and warehouse and print the comparison."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--server", choices=["prerendered", "sandbox"], default="prerendered")
    parser.add_argument("--kinds", default="", help="comma-separated (default: every loader)")
    parser.add_argument("--prefect-server", action="store_true", help="flows report to a prefect server process")
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k) or None
    if args.prefect_server:
        with common.prefect_server_process():
            result = bench_loaders(args.orders, args.runs, args.server, kinds)
    else:
        result = bench_loaders(args.orders, args.runs, args.server, kinds)
    print("\n".join(table(result)))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "detail"} for k, v in result["loaders"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
