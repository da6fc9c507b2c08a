"""Run the benchmarks and write bench/RESULTS.md.

    python -m bench.run --quick    # a few minutes: 20k-order backfills, 10k vs 100k history
    python -m bench.run --full     # 100k backfills x3, 10k vs 1M history, 1M memory, 5k shipments

Every comparison runs in the same process on the same machine and the same sandbox data: Wishflow's
real flows, a plain loader written the way a careful engineer would, and dlt with its defaults and
with its speed settings. Medians of the runs, min and max shown.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bench_pull import FAR_PAST, backfill, incremental, point_at, warm_up
from bench.common import ROOT, fresh_database, machine, prefect_server_process, repeat, sandbox_process

RESULTS = ROOT / "bench" / "RESULTS.md"


def _rate(orders: int, seconds: float) -> float:
    return orders / seconds if seconds else 0.0


def bench_backfill(orders: int, runs: int, with_dlt: bool) -> dict[str, Any]:
    from bench import plain_loader

    out: dict[str, Any] = {"orders": orders}
    with sandbox_process(orders=orders) as sb:
        warm_up()
        details: list[dict[str, Any]] = []

        def wishflow_run(i: int) -> float:
            url = fresh_database("wishflow_bench_backfill")
            result = backfill(sb.api_url, sb.access_token, url)
            details.append(result)
            return _rate(result["orders"], result["seconds"])

        out["wishflow"] = repeat(runs, wishflow_run)
        out["wishflow_details"] = details

        def pull_only(i: int) -> float:
            d = details[i]
            return _rate(d["orders"], d["pull_seconds"])

        out["wishflow_pull_only"] = repeat(runs, pull_only)

        def library_run(i: int) -> float:
            """The same pull through the library alone (no Prefect): orchestration's share."""
            from pydantic import SecretStr

            from wishflow.api.auth import TokenSet
            from wishflow.api.client import WishClient
            from wishflow.pull import PullWindow, pull_chunk
            from wishflow.warehouse.engine import make_engine

            url = fresh_database("wishflow_bench_library")
            engine = make_engine(url)
            window = PullWindow(FAR_PAST, datetime.now(UTC) + timedelta(days=400), incremental=False)
            started = time.perf_counter()
            with WishClient(sb.api_url, TokenSet(SecretStr(sb.access_token))) as client:
                position = None
                n = 0
                while True:
                    chunk = pull_chunk(client, engine, "default", window, position, max_pages=20)
                    n += chunk.load.fetched
                    position = chunk.next_position
                    if position is None:
                        break
            engine.dispose()
            return _rate(n, time.perf_counter() - started)

        out["library_pull"] = repeat(runs, library_run)

        def plain_run(i: int) -> float:
            url = fresh_database("wishflow_bench_plain")
            dsn = url.replace("postgresql+psycopg2://", "postgresql://")
            n, seconds = plain_loader.timed(sb.api_url, sb.access_token, dsn)
            return _rate(n, seconds)

        out["plain"] = repeat(runs, plain_run)
        if with_dlt:
            from bench import bench_dlt

            for tuned in (False, True):

                def dlt_run(i: int, tuned: bool = tuned) -> float:
                    url = fresh_database("wishflow_bench_dlt")
                    # dlt insists on a password in its credentials; the local server trusts loopback
                    dsn = url.replace("postgresql+psycopg2://postgres@", "postgresql://postgres:postgres@")
                    rows, seconds = bench_dlt.run(sb.api_url, sb.access_token, dsn, tuned=tuned)
                    return _rate(rows, seconds)

                key = "dlt_tuned" if tuned else "dlt_default"
                try:
                    out[key] = repeat(max(1, runs - 1), dlt_run)
                except Exception as exc:  # noqa: BLE001 - a failing peer is reported, not fatal
                    out.setdefault("errors", []).append(f"{key}: {type(exc).__name__}: {str(exc)[:300]}")
    return out


def _load_history(api_url: str, token: str, url: str) -> dict[str, Any]:
    """Backfill the sandbox into ``url``, each stage in its own process (as deployments run them);
    each stage's figures, then ``VACUUM ANALYZE`` as autovacuum would do before the next pull."""
    stages: dict[str, Any] = {}
    for stage in ("pull", "validate"):
        proc = subprocess.run(
            [sys.executable, "-m", "bench.bench_pull_into", stage, api_url, token, url],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        stages[stage] = json.loads(proc.stdout.strip().splitlines()[-1])
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()
    return stages


def bench_incremental(histories: list[int], runs: int) -> dict[str, Any]:
    """100 new orders pulled and validated with ``history`` orders already in the warehouse."""
    out: dict[str, Any] = {}
    for history in histories:
        with sandbox_process(orders=history) as sb:
            url = fresh_database(f"wishflow_bench_history_{history}")
            loaded = _load_history(sb.api_url, sb.access_token, url)
            warm_up()
            point_at(sb.api_url, sb.access_token, url)
            incremental(sb.api_url, sb.access_token, url, sb.admin)  # first run pays imports
            out[history] = {
                "latency": repeat(runs, lambda i, url=url: incremental(sb.api_url, sb.access_token, url, sb.admin)),
                "history_load": loaded,
            }
    return out


def verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def fmt(stat: dict[str, float], unit: str = "", digits: int = 0) -> str:
    return (
        f"{stat['median']:,.{digits}f}{unit} (min {stat['min']:,.{digits}f}, max {stat['max']:,.{digits}f}, "
        f"{stat['runs']} runs)"
    )


def write_results(mode: str, command: str, results: dict[str, Any], started: datetime) -> None:
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` ({mode}), run {started:%Y-%m-%d %H:%M} UTC, "
        f"{(datetime.now(UTC) - started).total_seconds() / 60:.1f} minutes.",
        "",
        f"Machine: {m['cpu']}, {m['memory']}; Python {m['python']}; PostgreSQL {m['postgresql']}.",
        f"Packages: {m['packages']}.",
        "The sandbox runs in its own process and PostgreSQL on the same machine, over loopback; the flows",
        "report to a `prefect server` in its own process (`PREFECT_API_URL`), as deployments do.",
        "",
    ]
    b = results.get("backfill")
    if b:
        wf, plain = b["wishflow"]["median"], b["plain"]["median"]
        lines += [
            f"## Backfill throughput ({b['orders']:,} orders, limit 500, PostgreSQL)",
            "",
            "| what | orders/s |",
            "|---|---|",
            f"| Wishflow: `pull_orders` + `validate_orders` flows | {fmt(b['wishflow'])} |",
            f"| Wishflow: `pull_orders` flow alone | {fmt(b['wishflow_pull_only'])} |",
            f"| Wishflow library pull, no Prefect | {fmt(b['library_pull'])} |",
            f"| plain loader (httpx + orjson + COPY, overlapped) | {fmt(b['plain'])} |",
        ]
        peers = [k for k in ("dlt_default", "dlt_tuned") if k in b]
        for error in b.get("errors", []):
            lines.append(f"| (failed) {error} | - |")
        for key in peers:
            lines.append(f"| dlt rest_api, {key.removeprefix('dlt_')} settings | {fmt(b[key])} |")
        lines += [
            "",
            f"- Goal: at least 10,000 orders/s end to end with validation: **{wf:,.0f}**"
            f" ({'met' if wf >= 10_000 else 'missed'}).",
            f"- Goal: at least 0.7 of the plain loader: **{wf / plain:.2f}** ({verdict(wf / plain >= 0.7)}).",
        ]
        if peers:
            best = max(b[k]["median"] for k in peers)
            lines.append(
                f"- Goal: at least 3x the faster dlt: **{wf / best:.1f}x** ({'met' if wf / best >= 3 else 'missed'})."
            )
        pull_flow, lib = b["wishflow_pull_only"]["median"], b["library_pull"]["median"]
        lines.append(f"- Orchestration: the pull flow runs at {pull_flow / lib:.2f} of the library alone.")
        d = b["wishflow_details"]
        share = statistics.median(x["validate_seconds"] / x["pull_seconds"] for x in d)
        lines.append(
            f"- Validation's share: validating the {b['orders']:,} orders takes **{share:.2f}** of the pull's time"
            " (median of the runs below)."
        )
        lines += [
            "",
            "Per run (Wishflow): "
            + "; ".join(
                f"pull {x['pull_seconds']:.1f} s + validate {x['validate_seconds']:.1f} s, {x['pages']} pages"
                for x in d
            ),
            "",
        ]
    inc = results.get("incremental")
    if inc:
        keys = sorted(inc)
        lines += [
            "## Incremental latency (100 new orders pulled and validated, warm process)",
            "",
            "| history | seconds |",
            "|---|---|",
        ]
        for k in keys:
            lines.append(f"| {int(k):,} orders | {fmt(inc[k]['latency'], ' s', 2)} |")
        if len(keys) >= 2:
            ratio = inc[keys[-1]]["latency"]["median"] / inc[keys[0]]["latency"]["median"]
            lines.append("")
            lines.append(
                f"- Goal: the larger history at most 1.2x the smaller: **{ratio:.2f}x** ({verdict(ratio <= 1.2)})."
            )
            worst = max(inc[k]["latency"]["max"] for k in keys)
            lines.append(f"- Goal: a single incremental run under 5 s: worst **{worst:.2f} s** ({verdict(worst < 5)}).")
        big = inc[keys[-1]]["history_load"]
        pull, validate = big["pull"], big["validate"]
        lines += [
            "",
            f"## Memory: backfill of {pull['orders']:,} orders",
            "",
            "Each stage in a process of its own, as its deployment runs under a process worker"
            " (`python -m bench.bench_pull_into pull|validate ...`); peak RSS of each process:",
            "",
            "| stage | peak RSS | after imports, before any order | time |",
            "|---|---|---|---|",
            f"| `pull_orders` | **{pull['peak_rss_mb']:.0f} MB** | {pull['rss_before_mb']:.0f} MB |"
            f" {pull['seconds']:.1f} s ({pull['orders'] / pull['seconds']:,.0f} orders/s) |",
            f"| `validate_orders` ({validate['batches']} batches) | **{validate['peak_rss_mb']:.0f} MB** |"
            f" {validate['rss_before_mb']:.0f} MB (Great Expectations imported) | {validate['seconds']:.1f} s |",
            "",
            f"- Goal: the backfill's peak at most 250 MB: pull **{pull['peak_rss_mb']:.0f} MB**"
            f" ({verdict(pull['peak_rss_mb'] <= 250)}), validation **{validate['peak_rss_mb']:.0f} MB**"
            f" ({verdict(validate['peak_rss_mb'] <= 250)}).",
            "",
        ]
    cycles = results.get("cycle")
    if cycles:
        small, large = cycles[0], cycles[-1]
        growth = (large["task_runs"] - small["task_runs"]) / max(1, (large["orders"] - small["orders"]) / 500)
        lines += [
            "## Orchestration: one `order_cycle` (pull, validate, ship, track, follow up)",
            "",
            "Command: `python -m bench.bench_cycle --orders N` (task and flow runs read back from the Prefect API).",
            "",
            "| new orders | wall time | flow runs | task runs | inside task bodies | Prefect's share (upper bound) |",
            "|---|---|---|---|---|---|",
        ]
        for c in cycles:
            lines.append(
                f"| {c['orders']:,} | {c['wall_seconds']:.1f} s | {c['flow_runs']} | {c['task_runs']} |"
                f" {c['seconds_in_task_bodies']:.1f} s | {c['prefect_share_at_most']:.1%} |"
            )
        lines += [
            "",
            f"Seconds per stage ({large['orders']:,} orders): "
            + ", ".join(f"{k} {v:.1f}" for k, v in large["stage_seconds"].items())
            + ".",
            "",
            f"- Goal: at most 1 task run per 500 orders plus a constant: **{growth:.2f}** more task runs per 500"
            f" more orders ({verdict(growth <= 1)}); the constant is {small['task_runs']} task runs at"
            f" {small['orders']:,} orders.",
            "",
        ]
    for key, title in (("shipping", "Shipping"), ("validation", "Validation alone")):
        if key in results:
            lines += [f"## {title}", "", "```", json.dumps(results[key], indent=1, default=str), "```", ""]
    if "notes" in results:
        lines += ["## What the profile showed", "", results["notes"], ""]
    RESULTS.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true")
    group.add_argument("--full", action="store_true")
    args = parser.parse_args()
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    notes = Path(ROOT / "bench" / "PROFILE.md")
    if notes.exists():
        results["notes"] = notes.read_text()
    with prefect_server_process():
        from bench import bench_cycle

        if args.quick:
            results["backfill"] = bench_backfill(20_000, runs=3, with_dlt=True)
            results["incremental"] = bench_incremental([10_000, 100_000], runs=3)
            results["cycle"] = [bench_cycle.run(2_000), bench_cycle.run(10_000)]
        else:
            results["backfill"] = bench_backfill(100_000, runs=3, with_dlt=True)
            results["incremental"] = bench_incremental([10_000, 1_000_000], runs=3)
            from bench import bench_shipping, bench_validation

            results["shipping"] = bench_shipping.run(orders=5000, rate_limit=50)
            results["validation"] = bench_validation.run(100_000)
            results["cycle"] = [bench_cycle.run(2_000), bench_cycle.run(10_000)]
    write_results(
        "quick" if args.quick else "full", "make bench-quick" if args.quick else "make bench", results, started
    )
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
