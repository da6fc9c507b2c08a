"""The ``wishflow`` command: serve the sandbox, migrate the warehouse, run flows, run the demo.

It stands above both layers (library and Prefect), which is why it is not inside ``wishflow/``.
Heavy imports (Prefect, GX) happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

OPTIONAL_COMMANDS = (
    "wishflow_cli.sandbox_cmd",
    "wishflow_cli.orders_cmd",
    "wishflow_cli.ship_cmd",
    "wishflow_cli.webhooks_cmd",
    "wishflow_cli.report_cmd",
    "wishflow_cli.docs_cmd",
    "wishflow_cli.auth_cmd",
    "wishflow_cli.todo_cmd",
)


def _db_upgrade(args: argparse.Namespace) -> int:
    from wishflow.config import warehouse_url_from_env
    from wishflow.warehouse.engine import upgrade

    url = args.warehouse_url or warehouse_url_from_env()
    upgrade(url)
    from sqlalchemy.engine import make_url

    print(f"warehouse at {make_url(url).render_as_string(hide_password=True)} is up to date")
    return 0


def _run_pull(args: argparse.Namespace) -> int:
    if args.warehouse_url:
        os.environ["WISHFLOW_WAREHOUSE_URL"] = args.warehouse_url
    from flows.pull_orders import pull_orders

    result = pull_orders(
        store=args.store,
        since=args.since,
        until=args.until,
        page_size=args.page_size,
        lookback=timedelta(minutes=args.lookback_minutes),
        wish_block=args.wish_block,
        warehouse_block=args.warehouse_block,
        notify_block=args.notify_block,
    )
    print(
        f"pulled {result['fetched']} orders for store {result['store']}: {result['new']} new, "
        f"{result['changed']} changed, {result['unchanged']} unchanged, {result['quarantined']} quarantined"
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from wishflow_cli.demo import run_demo

    return run_demo(orders=args.orders, seed=args.seed, days=args.days)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wishflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="warehouse schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply the Alembic migrations (idempotent)")
    up.add_argument("--warehouse-url", help="SQLAlchemy URL (default: WISHFLOW_WAREHOUSE_URL or the SQLite file)")
    up.set_defaults(func=_db_upgrade)
    from wishflow_cli.db_cmd import add_db_commands  # db grant-analyst (issue 22)

    add_db_commands(db_sub)

    run = sub.add_parser("run", help="run a flow once, in this process")
    run_sub = run.add_subparsers(dest="flow", required=True)
    pull = run_sub.add_parser("pull", help="pull new and changed orders")
    pull.add_argument("--store", default="default")
    pull.add_argument("--since", type=datetime.fromisoformat, help="backfill start (ISO 8601)")
    pull.add_argument("--until", type=datetime.fromisoformat, help="backfill end (ISO 8601)")
    pull.add_argument("--page-size", type=int, default=500)
    pull.add_argument("--lookback-minutes", type=float, default=10.0)
    pull.add_argument("--wish-block")
    pull.add_argument("--warehouse-block")
    pull.add_argument("--warehouse-url")
    pull.add_argument("--notify-block")
    pull.set_defaults(func=_run_pull)

    demo = sub.add_parser("demo", help="run the order cycle against a fresh sandbox into the SQLite warehouse")
    demo.add_argument("--orders", type=int, default=300, help="orders the sandbox starts with")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--days", type=int, default=3, help="simulated days to run the cycle through")
    demo.set_defaults(func=_demo)

    for module_name in OPTIONAL_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
