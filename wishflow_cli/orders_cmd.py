"""``wishflow orders``: read the deadline and quarantine views from a terminal.

wishflow orders --unprocessed            valid APPROVED orders not shipped, soonest deadline first
wishflow orders --at-risk [--hours 24]   unshipped, not quarantined orders close to (or past) their deadline
wishflow orders --quarantined            open orders held back by validation, with their reasons
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

_COLUMNS = {
    "unprocessed": ["order_id", "expected_ship_time", "hours_left", "flags", "country_code", "sku", "quantity"],
    "at_risk": ["order_id", "expected_ship_time", "hours_left", "validation_status", "flags", "country_code", "sku"],
    "quarantined": ["order_id", "expected_ship_time", "hours_left", "quarantined_since", "hours_held", "reasons"],
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``orders`` on the main command's subparsers."""
    parser = subparsers.add_parser("orders", help="list unprocessed, at-risk or quarantined orders")
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--unprocessed", action="store_true", help="valid orders to ship, by deadline (default)")
    view.add_argument(
        "--at-risk", action="store_true", help="unshipped orders near their ship-by deadline, not quarantined"
    )
    view.add_argument("--quarantined", action="store_true", help="orders held back by validation")
    parser.add_argument("--hours", type=float, default=24.0, help="with --at-risk: hours left (default 24)")
    parser.add_argument("--store", default=None, help="store name (default: WISHFLOW_STORE or 'default')")
    parser.add_argument("--warehouse-url", default=None, help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL)")
    parser.add_argument("--limit", type=int, default=200, help="rows to show (default 200)")
    parser.set_defaults(func=run)
    return parser


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # the warehouse keeps UTC; say so
        return (value.astimezone(UTC) if value.tzinfo else value).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _flags(row: dict[str, Any]) -> str:
    return ",".join(name for name, key in (("WE", "is_wish_express"), ("CD", "is_confirmed_delivery")) if row.get(key))


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain fixed-width table (no colours, so it pipes cleanly)."""
    cells = [[_flags(r) if c == "flags" else _cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """``wishflow orders``: the orders held by validation, waiting to ship, or at risk, from the warehouse."""
    import os

    from wishflow.config import DEFAULT_STORE, warehouse_url_from_env
    from wishflow.validation.queries import orders_at_risk, quarantined_orders, unprocessed_orders
    from wishflow.warehouse.engine import make_engine
    from wishflow_cli.run_cmd import warehouse_problem

    store = args.store or os.environ.get("WISHFLOW_STORE") or DEFAULT_STORE
    url = args.warehouse_url or warehouse_url_from_env()
    # a mistyped path or store is an error, never an empty list (and never a new empty file)
    problem = warehouse_problem(url, store, store_must_exist=True)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        if args.at_risk:
            view, rows = "at_risk", orders_at_risk(engine, store, args.hours, limit=args.limit)
            title = (
                f"{len(rows)} unshipped order(s) of store {store}, not quarantined, with under {args.hours:g} h left"
                " (quarantined ones: wishflow orders --quarantined)"
            )
        elif args.quarantined:
            view, rows = "quarantined", quarantined_orders(engine, store, limit=args.limit)
            title = f"{len(rows)} open order(s) of store {store} quarantined (held from shipping)"
        else:
            view, rows = "unprocessed", unprocessed_orders(engine, store, limit=args.limit)
            title = f"{len(rows)} unprocessed order(s) of store {store}, soonest deadline first"
    finally:
        engine.dispose()
    print(title)
    if rows:
        print(format_table(rows, _COLUMNS[view]))
    return 0
