"""The pull's two routes from a page's bytes to its rows, timed side by side (issue 20).

- **careful**: the page parsed into dicts (``orjson``), each record checked by pydantic
  (``parse_orders``), flattened from its dicts (``flatten_order``), its milestones read (the route
  every irregular record still takes, and every record took before stop 28);
- **typed**: the page split into each record's bytes and decoded into typed structs
  (``wishflow.orders.records.order_records``, the pull's page since stop 28), the row read off them.

Both are followed by the rest of ``prepare_orders`` (the bounds, the ``COPY`` text of the orders,
their events and queue entries), so the figures are the pull's parsing thread's CPU per order, page
bytes to a prepared batch, alternated on the same pages. That both routes give the same rows is
tests/orders/test_typed_records.py's job (every data profile, every kind of wrong value).

    python -m bench.bench_typed_decode --orders 20000 --rounds 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import orjson

from wishflow.orders.parse import parse_orders
from wishflow.orders.records import order_records
from wishflow.warehouse.orders_writer import prepare_orders


def careful(page: bytes) -> Any:
    """A page as the pull prepared it before stop 28 (and as it prepares an irregular record)."""
    parsed, rejected = parse_orders(orjson.loads(page))
    return prepare_orders("default", parsed, rejected, run_id="r", encode=True, stored=False)


def typed(page: bytes) -> Any:
    """A page as the pull prepares it: typed records, the careful route for irregular ones only."""
    parsed, rejected = parse_orders(order_records(page))
    return prepare_orders("default", parsed, rejected, run_id="r", encode=True, stored=False)


def _cpu_us_per_order(fn: Callable[[bytes], Any], pages: list[bytes], orders: int) -> float:
    started = time.process_time()
    for page in pages:
        fn(page)
    return (time.process_time() - started) / orders * 1e6


def main() -> int:
    """Print each route's CPU microseconds per order, alternated ``--rounds`` times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from bench.prerendered import generate

    raws = generate(args.orders, 11).raws
    pages = [b"[" + b",".join(raws[i : i + 500]) + b"]" for i in range(0, len(raws), 500)]
    times: dict[str, list[float]] = {"careful": [], "typed": []}
    for _ in range(args.rounds):
        times["careful"].append(_cpu_us_per_order(careful, pages, args.orders))
        times["typed"].append(_cpu_us_per_order(typed, pages, args.orders))
    for name, values in times.items():
        values.sort()
        print(
            f"{name:>7}: {values[len(values) // 2]:.1f} us of CPU per order, page bytes to a prepared batch "
            f"(median of {len(values)}; min {values[0]:.1f}, max {values[-1]:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
