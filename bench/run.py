"""Run the benchmarks and write bench/RESULTS.md.

    python -m bench.run --quick    # 20k-order backfills of every loader, 10k vs 100k history
    python -m bench.run --full     # 100k backfills x3, 10k vs 1M history, 1M memory, 5k shipments
    python -m bench.run --loaders-only [--orders N --runs R]   # only the side-by-side loader tables

Every loader backfills the same orders on the same machine in the same run, each in a process of
its own (:mod:`bench.bench_loaders`): Wishflow's real flows and its library pull, a plain loader
written the way a careful engineer would, and dlt with its defaults and with its speed settings,
first against the pre-rendered list server (:mod:`bench.prerendered`, so the CPU measured is the
loaders' and PostgreSQL's), then against the sandbox. Medians of the runs, min and max shown.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

from bench.bench_pull import INCREMENTAL_LOOKBACK, backfill, incremental, point_at, warm_up
from bench.common import ROOT, fresh_database, machine, prefect_server_process, repeat, sandbox_process

RESULTS = ROOT / "bench" / "RESULTS.md"
#: Issue 20's peak-memory goals for a 1M-order backfill, each stage in its own process.
PULL_PEAK_GOAL_MB = 250
VALIDATION_PEAK_GOAL_MB = 300
EARLIER_MARK = "The sections below are the previous bench/RESULTS.md's, kept as they were:"


def _rate(orders: int, seconds: float) -> float:
    return orders / seconds if seconds else 0.0


def _load_history(api_url: str, token: str, url: str) -> dict[str, Any]:
    """Backfill the sandbox into ``url``, each stage in its own process (as deployments run them).

    Each stage's figures, then ``VACUUM ANALYZE`` as autovacuum would do before the next pull.
    """
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


def _warm_flows() -> None:
    """Run a backfill and an incremental run against a small sandbox and a scratch warehouse.

    This process then has imported the flows and run each once, so the first incremental run timed
    afterwards, against the real history, pays what any scheduled run pays, not the process's
    first-run costs: what is timed first is the first incremental run after the backfill (issue 20's
    "the first incremental run after a complete backfill costs the same as any other").
    """
    with sandbox_process(orders=200) as sb:
        url = fresh_database("wishflow_bench_warm")
        backfill(sb.api_url, sb.access_token, url)
        incremental(sb.api_url, sb.access_token, url, sb.admin)


def bench_incremental(histories: list[int], runs: int) -> dict[str, Any]:
    """100 new orders pulled and validated with ``history`` orders already in the warehouse.

    The first run after the backfill (a process warmed elsewhere) is reported apart from the later ones.
    """
    out: dict[str, Any] = {}
    warm_up()
    _warm_flows()  # once: the process stays warm for every history
    for history in histories:
        with sandbox_process(orders=history) as sb:
            url = fresh_database(f"wishflow_bench_history_{history}")
            loaded = _load_history(sb.api_url, sb.access_token, url)
            point_at(sb.api_url, sb.access_token, url)
            fetched: list[int] = []
            first = incremental(sb.api_url, sb.access_token, url, sb.admin, fetched=fetched)
            latency = repeat(
                runs,
                lambda _i, url=url, fetched=fetched: incremental(
                    sb.api_url, sb.access_token, url, sb.admin, fetched=fetched
                ),
            )
            out[history] = {
                "first": first,
                "first_fetched": fetched[0],
                "fetched": fetched[1:],
                "latency": latency,
                "history_load": loaded,
            }
    return out


def overlap_share(figures: dict[str, Any]) -> float:
    """How much of a loader's run overlapped Python and PostgreSQL: 0 when the wall time is their sum, 1 at the larger.

    The time that can overlap is the smaller of the two CPU times; what did is the sum less the wall
    time. Waiting for a core (other processes on the machine) counts as not overlapping.
    """
    loader, postgres = figures["cpu_seconds"], figures["postgres_cpu"]
    possible = min(loader, postgres)
    if possible <= 0:
        return 0.0
    return max(0.0, min(1.0, (loader + postgres - figures["seconds"]) / possible))


def loader_section(results: dict[str, Any]) -> list[str]:
    """The side-by-side loader tables (pre-rendered server first, then the sandbox) and the goals."""
    from bench.bench_loaders import table

    pre = results.get("loaders")
    if not pre:
        return []
    lines = [
        f"## Backfill, every loader side by side ({pre['orders']:,} orders, limit 500, PostgreSQL)",
        "",
        "Against the pre-rendered list server (`bench/prerendered.py`: the sandbox's orders, pages served as",
        "stored bytes), so the CPU is the loaders' and PostgreSQL's. Each run in a fresh process and a fresh",
        "database; runs of the loaders interleaved. CPU seconds from `/proc` and `getrusage`",
        "(`bench/bench_loaders.py`); PostgreSQL: the database's backends (`pg_stat_activity`).",
        "The last column is 1 when Python and PostgreSQL never overlap and the CPU is never waited for,",
        "below 1 when they overlap; on a shared machine waiting for a core pushes it up.",
        "",
        *table(pre),
        "",
    ]
    ld = pre["loaders"]
    plain = ld.get("plain")
    if plain:
        goals: list[str] = []
        if "pull_validate" in ld:
            r = ld["pull_validate"]["rate"] / plain["rate"]
            goals.append(
                f"- With validation: **{r:.2f}×** the plain loader (this round ≥ 0.4: {verdict(r >= 0.4)};"
                f" the project's ≥ 0.7: {verdict(r >= 0.7)})."
            )
            x = ld["pull_validate"]
            cpu = x["cpu_seconds"] + x["server_cpu"] + x["postgres_cpu"] + x["prefect_cpu"]
            cores = os.cpu_count() or 1
            best = x["orders"] / (cpu / cores)
            goals.append(
                f"- With validation, the CPU ceiling: its processes used {cpu:.1f} CPU s (loader, list server,"
                f" PostgreSQL, prefect server) on {cores} cores, so even with every core busy all the run it could"
                f" reach at most {best:,.0f} orders/s, **{best / plain['rate']:.2f}×** the plain loader"
                f" (whose processes used {plain['cpu_seconds'] + plain['server_cpu'] + plain['postgres_cpu']:.1f}"
                " CPU s): 0.7× needs less CPU per order, not only more overlap."
            )
            dlts = [ld[k]["rate"] for k in ("dlt_tuned", "dlt_default") if k in ld]
            if dlts:
                d = ld["pull_validate"]["rate"] / max(dlts)
                goals.append(f"- With validation: **{d:.2f}×** the faster dlt (goal ≥ 3: {verdict(d >= 3)}).")
        if "pull" in ld:
            x = ld["pull"]
            r = x["rate"] / plain["rate"]
            goals.append(f"- The pull alone: **{r:.2f}×** the plain loader (this round ≥ 0.5: {verdict(r >= 0.5)}).")
            pg = (x["postgres_cpu"] / x["orders"]) / max(1e-9, plain["postgres_cpu"] / plain["orders"])
            goals.append(
                f"- PostgreSQL CPU per order, the pull: **{pg:.2f}×** the plain loader's"
                f" (goal ≤ 1.5: {verdict(pg <= 1.5)})."
            )
            goals.append(
                f"- Overlap, the pull: wall {x['seconds']:.1f} s against loader CPU {x['cpu_seconds']:.1f} s and"
                f" PostgreSQL CPU {x['postgres_cpu']:.1f} s (sum {x['cpu_seconds'] + x['postgres_cpu']:.1f} s,"
                f" larger {max(x['cpu_seconds'], x['postgres_cpu']):.1f} s): **{overlap_share(x):.0%}** of the"
                f" time that could overlap did (goal: wall near the larger, 100%; the plain loader"
                f" {overlap_share(plain):.0%}; bench/PROFILE.md: what limits it)."
            )
        for kind in ("library", "pull"):
            if f"{kind}@base" in ld and kind in ld:
                now, before = ld[kind], ld[f"{kind}@base"]
                goals.append(
                    f"- This round, {kind}: **{now['rate'] / before['rate']:.2f}×** the orders/s of before"
                    f" ({before['rate']:,.0f} -> {now['rate']:,.0f}); PostgreSQL CPU per order"
                    f" {before['postgres_cpu'] / before['orders'] * 1e6:.0f}"
                    f" -> {now['postgres_cpu'] / now['orders'] * 1e6:.0f} µs,"
                    f" loader CPU per order {before['cpu_seconds'] / before['orders'] * 1e6:.0f}"
                    f" -> {now['cpu_seconds'] / now['orders'] * 1e6:.0f} µs."
                )
        lines += [*goals, ""]
    sb = results.get("loaders_sandbox")
    if sb:
        lines += [
            f"### The same loaders against the sandbox ({sb['orders']:,} orders, `wishflow sandbox serve`)",
            "",
            "The sandbox renders every page (its list endpoint's CPU is the list server column).",
            "",
            *table(sb),
            "",
        ]
    return lines


def verdict(ok: bool) -> str:
    """The word the results file uses for whether a target was reached."""
    return "met" if ok else "missed"


def fmt(stat: dict[str, float], unit: str = "", digits: int = 0) -> str:
    """A figure as its median with the range over the runs, for the results file."""
    return (
        f"{stat['median']:,.{digits}f}{unit} (min {stat['min']:,.{digits}f}, max {stat['max']:,.{digits}f}, "
        f"{stat['runs']} runs)"
    )


def write_results(mode: str, command: str, results: dict[str, Any], started: datetime) -> None:
    """Write ``RESULTS.md``: the machine, the command and each figure against its target."""
    m = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}` ({mode}), run {started:%Y-%m-%d %H:%M} UTC, "
        f"{(datetime.now(UTC) - started).total_seconds() / 60:.1f} minutes.",
        "",
        f"Machine: {m['cpu']}, {m['memory']}; Python {m['python']}; PostgreSQL {m['postgresql']}.",
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work on the"
        " machine inflates wall times; CPU seconds and same-run ratios hold better).",
        f"Packages: {m['packages']}.",
        "The sandbox runs in its own process and PostgreSQL on the same machine, over loopback; the flows",
        "report to a `prefect server` in its own process (`PREFECT_API_URL`), as deployments do.",
        "",
    ]
    lines += loader_section(results)
    inc = results.get("incremental")
    if inc:
        keys = sorted(inc)
        lines += [
            "## Incremental latency (100 new orders pulled and validated, warm process)",
            "",
            "The first run after the backfill is timed apart: the process ran the flows once beforehand against",
            "a small sandbox and a scratch warehouse, so it pays what a scheduled run pays, not its imports.",
            "",
            "Each run reads the orders updated since its cursor less the look-back"
            f" ({INCREMENTAL_LOOKBACK.total_seconds():.0f} s here), the new ones among them.",
            "",
            "| history | seconds | orders read | the first run after the backfill | orders it read |",
            "|---|---|---|---|---|",
        ]
        for k in keys:
            first = inc[k].get("first")
            shown = f"{first:.2f} s" if first is not None else "-"
            read = inc[k].get("fetched") or []
            read_shown = f"{min(read):,}-{max(read):,}" if read else "-"
            first_read = inc[k].get("first_fetched")
            first_read_shown = f"{first_read:,}" if first_read is not None else "-"
            lines.append(
                f"| {int(k):,} orders | {fmt(inc[k]['latency'], ' s', 2)} | {read_shown} |"
                f" {shown} | {first_read_shown} |"
            )
        if len(keys) >= 2:
            ratio = inc[keys[-1]]["latency"]["median"] / inc[keys[0]]["latency"]["median"]
            lines.append("")
            lines.append(
                f"- Goal: the larger history at most 1.2x the smaller: **{ratio:.2f}x** ({verdict(ratio <= 1.2)})."
            )
            worst = max(max(inc[k]["latency"]["max"], inc[k].get("first") or 0.0) for k in keys)
            lines.append(f"- Goal: a single incremental run under 5 s: worst **{worst:.2f} s** ({verdict(worst < 5)}).")
        firsts = [(k, inc[k]["first"] / inc[k]["latency"]["median"]) for k in keys if inc[k].get("first")]
        if firsts:
            k, first_ratio = max(firsts, key=lambda kr: kr[1])
            later = inc[k].get("fetched") or [0]
            lines.append(
                f"- Goal: the first incremental run after a complete backfill costs the same as any other:"
                f" **{first_ratio:.2f}x** the later runs' median at {int(k):,} orders (the larger of the"
                f" histories' ratios; {verdict(first_ratio <= 1.2)} within the 1.2x the histories are allowed);"
                f" it read {inc[k].get('first_fetched', 0):,} orders, the later runs {max(later):,} at most"
                " (bench/PROFILE.md: what its look-back held)."
            )
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
            f"- Goals (issue 20): the pull's peak at most 250 MB: **{pull['peak_rss_mb']:.0f} MB**"
            f" ({verdict(pull['peak_rss_mb'] <= PULL_PEAK_GOAL_MB)}); validation's at most 300 MB:"
            f" **{validate['peak_rss_mb']:.0f} MB** ({verdict(validate['peak_rss_mb'] <= VALIDATION_PEAK_GOAL_MB)}).",
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
    if results.get("earlier"):
        lines += [
            "## Earlier figures (not re-run by this command)",
            "",
            EARLIER_MARK,
            "",
            ("\n" + results["earlier"]).replace("\n# ", "\n### ").replace("\n## ", "\n### "),
            "",
        ]
    for key, title in (("shipping", "Shipping"), ("validation", "Validation alone")):
        if key in results:
            lines += [f"## {title}", "", "```", json.dumps(results[key], indent=1, default=str), "```", ""]
    lines += [
        "## What the profile showed",
        "",
        "bench/PROFILE.md, beside this file: what limits each figure, and the plan (kept there, not copied here).",
        "",
    ]
    RESULTS.write_text("\n".join(lines))


def main() -> int:
    """Run the ``--quick`` or ``--full`` benchmark suite and write its results."""
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--quick", action="store_true")
    group.add_argument("--full", action="store_true")
    group.add_argument("--loaders-only", action="store_true", help="only the side-by-side loader tables")
    parser.add_argument("--orders", type=int, default=None, help="with --loaders-only (default 20000)")
    parser.add_argument("--runs", type=int, default=None, help="with --loaders-only (default 1)")
    args = parser.parse_args()
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    with prefect_server_process():
        from bench import bench_cycle
        from bench.bench_loaders import DEFAULT_KINDS, bench_loaders

        if args.loaders_only:
            if RESULTS.exists():
                earlier = RESULTS.read_text()
                results["earlier"] = earlier.split(EARLIER_MARK, 1)[-1].strip()
            results["loaders"] = bench_loaders(args.orders or 20_000, args.runs or 1, "prerendered")
            results["loaders_sandbox"] = bench_loaders(args.orders or 20_000, 1, "sandbox", DEFAULT_KINDS)
        elif args.quick:
            results["loaders"] = bench_loaders(20_000, 2, "prerendered")
            results["loaders_sandbox"] = bench_loaders(20_000, 1, "sandbox", DEFAULT_KINDS)
            results["incremental"] = bench_incremental([10_000, 100_000], runs=3)
            results["cycle"] = [bench_cycle.run(2_000), bench_cycle.run(10_000)]
        else:
            results["loaders"] = bench_loaders(100_000, 3, "prerendered")
            results["loaders_sandbox"] = bench_loaders(100_000, 1, "sandbox", DEFAULT_KINDS)
            results["incremental"] = bench_incremental([10_000, 1_000_000], runs=3)
            from bench import bench_shipping, bench_validation

            results["shipping"] = bench_shipping.run(orders=5000, rate_limit=50)
            results["validation"] = bench_validation.run(100_000)
            results["cycle"] = [bench_cycle.run(2_000), bench_cycle.run(10_000)]
    mode = "quick" if args.quick else "full" if args.full else "loaders only"
    command = (
        "make bench-quick"
        if args.quick
        else "make bench"
        if args.full
        else "python " + " ".join(["-m", "bench.run", *sys.argv[1:]])
    )
    write_results(mode, command, results, started)
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
