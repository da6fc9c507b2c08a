"""``wishflow todo``: what the merchant must do today, most urgent first (``v_action_items``).

wishflow todo [--store S] [--json] [--kind K] [--limit N]

Missed deadlines first, then those at risk, then the rest, each by due time; a heading with the queue
counts every other surface prints (:func:`wishflow.actions.queue_counts`).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from wishflow_cli.orders_cmd import format_table

_COLUMNS = ["severity", "kind", "order_id", "due_at", "hours_left", "what_to_do"]
_WHAT_WIDTH = 100


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``todo`` on the main command's subparsers."""
    from wishflow.actions.queues import ACTION_KINDS

    parser = subparsers.add_parser("todo", help="what needs doing today, most urgent first")
    parser.add_argument("--store", default=None, help="store name (default: WISHFLOW_STORE or 'default')")
    parser.add_argument("--warehouse-url", default=None, help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL)")
    parser.add_argument("--kind", choices=ACTION_KINDS, default=None, help="only this kind of action")
    parser.add_argument("--limit", type=int, default=200, help="rows to show (default 200)")
    parser.add_argument("--json", action="store_true", help="print JSON (counts and items) instead of a table")
    parser.set_defaults(func=run)
    return parser


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def run(args: argparse.Namespace) -> int:
    """``wishflow todo``: the store's queue counts and action items (``--json`` for scripts)."""
    import os

    from wishflow.actions.queues import action_items, queue_counts
    from wishflow.config import DEFAULT_STORE, warehouse_url_from_env
    from wishflow.warehouse.engine import make_engine

    store = args.store or os.environ.get("WISHFLOW_STORE") or DEFAULT_STORE
    engine = make_engine(args.warehouse_url or warehouse_url_from_env())
    try:
        counts = queue_counts(engine, store)
        items = action_items(engine, store, kind=args.kind, limit=args.limit)
    finally:
        engine.dispose()
    if args.json:
        payload = {
            "store": store,
            "counts": counts.to_json(),
            "items": [{k: _jsonable(v) for k, v in item.items()} for item in items],
        }
        print(json.dumps(payload, indent=2, sort_keys=False))
        return 0
    sev = counts.by_severity
    print(
        f"store {store}: {counts.total_actions} thing(s) to do "
        f"({sev.get('missed', 0)} missed, {sev.get('at_risk', 0)} at risk, {sev.get('action', 0)} other); "
        f"{counts.quarantined} quarantined, {counts.waiting_to_ship} waiting to ship, "
        f"{counts.at_risk} at risk of the ship-by deadline"
    )
    if items:
        shown = [{**item, "what_to_do": _short(item["what_to_do"])} for item in items]
        print(format_table(shown, _COLUMNS))
    if len(items) < counts.total_actions and args.kind is None:
        print(f"... {counts.total_actions - len(items)} more (--limit)")
    return 0


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _WHAT_WIDTH else text[: _WHAT_WIDTH - 1] + "…"
