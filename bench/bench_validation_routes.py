"""What validating "without reading back what the pull just wrote" would cost (issue 20, item 4).

Four routes over the same pulled orders (the library pull of ``--orders`` pre-rendered orders into
a fresh database, once), each timed with this process's CPU and PostgreSQL's:

- **today**: ``validate_orders``' loop without its writes: the pending batch read back from the
  warehouse (``read_pending_batch``, batches of ``DEFAULT_BATCH_SIZE``), then ``validate_frame``;
- **the pull's chunks**: ``validate_frame`` on frames the size of one ``pull_pages`` task's chunk
  (``--chunk``, 20 pages of 500 by default), already in memory: nothing read back, and building
  those frames from the pull's records is not counted, so this is the route's lower bound;
- **the pull's chunks gathered**: the same, on frames of ``DEFAULT_BATCH_SIZE`` (the pull's chunks
  held until there are that many: the most item 4 could save, the read, at the cost of holding
  them in the pull's process beside GX);
- **GX's SQL engine**: the blocking suite's expectations that the stored ``orders`` table can
  answer (a column it holds, no row condition) run by GX against the table itself, failing order
  ids asked for; the other expectations need columns ``validate_frame`` derives (parcel weight from
  the SKU table, the rules per country), so this too is a lower bound.

    python -m bench.bench_validation_routes --orders 100000 --runs 2
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

DB = "wishflow_bench_validation_routes"


def _timed(name: str, db: str, fn: Callable[[], int]) -> dict[str, Any]:
    from bench import common
    from bench.cpu import PostgresBackends

    backends = PostgresBackends(common.PG_ADMIN_URL, db)
    backends.start()
    cpu0, started = time.process_time(), time.perf_counter()
    orders = fn()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return {"route": name, "orders": orders, "seconds": seconds, "cpu": cpu, "postgres_cpu": backends.stop()}


def _today(engine: Any, now: datetime) -> int:
    from wishflow.validation.store import iter_pending_batches
    from wishflow.validation.validate import validate_frame

    n = 0
    for frame in iter_pending_batches(engine, "default"):
        validate_frame(frame, now)
        n += len(frame)
    return n


def _sql_suite(gx: Any, url: str) -> tuple[Any, Any, int, int]:
    """A GX batch over the stored ``orders`` table, the blocking expectations it can answer, how many of how many."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from wishflow.validation.suites import BLOCKING_SUITE, build_suites
    from wishflow.warehouse.schema import orders

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    asset = context.data_sources.add_postgres("warehouse", connection_string=url).add_table_asset(
        "orders", table_name="orders"
    )
    blocking = next(s for s in build_suites(gx) if s.name == BLOCKING_SUITE)
    stored = set(orders.c.keys())
    answerable = [
        e
        for e in blocking.expectations
        if getattr(e, "column", None) in stored and not getattr(e, "row_condition", None)
    ]
    excluded = {"id", "notes", "rendered_content", "description"}
    copies = [type(e)(**{k: v for k, v in e.dict(exclude=excluded).items() if v is not None}) for e in answerable]
    suite = context.suites.add(gx.ExpectationSuite(name="stored-columns", expectations=copies))
    batch = asset.add_batch_definition_whole_table("all").get_batch()
    return batch, suite, len(answerable), len(blocking.expectations)


def main() -> int:
    """Print one markdown row per route and run (for bench/PROFILE.md)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=10_000, help="orders per pull_pages task (20 pages of 500)")
    args = parser.parse_args()

    import pandas as pd

    from bench.common import drop_database, fresh_database, prerendered_process
    from bench.loader_run import _library
    from wishflow.validation.bounds import EARLIEST_RELEASE, ValidationBounds
    from wishflow.validation.gx_runtime import gx_runtime
    from wishflow.validation.store import DEFAULT_BATCH_SIZE, iter_pending_batches
    from wishflow.validation.validate import validate_frame
    from wishflow.warehouse.engine import make_engine

    url = fresh_database(DB)
    with prerendered_process(orders=args.orders) as server:
        _library(server.api_url, server.access_token, url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    runtime = gx_runtime()  # the import and context, paid before any route is timed
    everything = pd.concat(list(iter_pending_batches(engine, "default")), ignore_index=True)

    def slices(size: int) -> list[pd.DataFrame]:
        return [everything.iloc[i : i + size].reset_index(drop=True) for i in range(0, len(everything), size)]

    chunks, gathered = slices(args.chunk), slices(DEFAULT_BATCH_SIZE)
    batch, suite, answerable, total = _sql_suite(runtime.gx, url)
    parameters = {"now": now, "earliest_release": EARLIEST_RELEASE, **ValidationBounds().parameters()}
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": ["order_id"]}

    def validating(frames: list[pd.DataFrame]) -> Callable[[], int]:
        def run() -> int:
            for frame in frames:
                validate_frame(frame, now)
            return len(everything)

        return run

    def in_sql() -> int:
        batch.validate(suite, result_format=result_format, expectation_parameters=parameters)
        return len(everything)

    routes: list[tuple[str, Callable[[], int]]] = [
        ("today: read back in batches, then validate_frame", lambda: _today(engine, now)),
        (f"the pull's chunks: validate_frame per {args.chunk:,} orders, nothing read", validating(chunks)),
        (f"the pull's chunks gathered: per {DEFAULT_BATCH_SIZE:,}, nothing read", validating(gathered)),
        (f"GX's SQL engine: {answerable} of the {total} blocking expectations, on the table", in_sql),
    ]
    print(f"{len(everything):,} orders; the pull's chunk {args.chunk:,}")
    print("| route | seconds | this process's CPU s | PostgreSQL CPU s |")
    print("|---|---|---|---|")
    for _ in range(args.runs):
        for name, fn in routes:
            row = _timed(name, DB, fn)
            print(f"| {name} | {row['seconds']:.2f} | {row['cpu']:.2f} | {row['postgres_cpu']:.2f} |", flush=True)
    engine.dispose()
    drop_database(DB)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
