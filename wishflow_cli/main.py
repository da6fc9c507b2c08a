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
    "wishflow_cli.run_cmd",
    "wishflow_cli.notify_cmd",
)


def _db_upgrade(args: argparse.Namespace) -> int:
    from wishflow.config import warehouse_url_from_env
    from wishflow.warehouse.engine import upgrade

    url = args.warehouse_url or warehouse_url_from_env()
    upgrade(url)
    from sqlalchemy.engine import make_url

    print(f"warehouse at {make_url(url).render_as_string(hide_password=True)} is up to date")
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

    demo = sub.add_parser(
        "demo", help="run the order cycle against a fresh sandbox into .wishflow/demo.db (never the default warehouse)"
    )
    demo.add_argument("--orders", type=int, default=300, help="orders the sandbox starts with")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--days", type=int, default=14, help="simulated days to run the cycle through (a day per cycle)")
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
